/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The ABI between bpf/tls.bpf.c (TLS plaintext tracing with uprobes on libssl) and its C++
 * owner, agent/bpf/tls_tracer.cc: the ring-buffer event and the map keys. Fixed-width types,
 * explicit padding, no pointers (an SSL* travels as a __u64). Included by both sides; the C++
 * side static_asserts the sizes.
 *
 * One SSL_read/SSL_write call becomes one or more TLS_EV_DATA events: the plaintext is cut into
 * pieces of at most TLS_DATA_CAP bytes, at most TLS_MAX_PIECES of them per call. A call longer
 * than TLS_DATA_CAP * TLS_MAX_PIECES sets TLS_F_TRUNCATED on its last piece; `call_len` always
 * holds what SSL returned, so the consumer knows how many bytes it did not see. SSL_free is a
 * TLS_EV_CLOSE event without data.
 */
#ifndef VEIL_BPF_TLS_ABI_H_
#define VEIL_BPF_TLS_ABI_H_

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TLS_DATA_CAP 4096
#define TLS_MAX_PIECES 8
#define TLS_COMM_LEN 16

enum tls_event_kind {
	TLS_EV_READ = 1,  /* plaintext received from the peer (SSL_read, SSL_read_ex) */
	TLS_EV_WRITE = 2, /* plaintext sent to the peer (SSL_write, SSL_write_ex) */
	TLS_EV_CLOSE = 3, /* SSL_free: the consumer drops per-connection state */
};

#define TLS_F_TRUNCATED 0x1   /* bytes of this call after this piece were not captured */
#define TLS_F_FD_CACHED 0x2   /* no nested syscall: fd came from the SSL* -> fd cache */
#define TLS_F_ADDR_VALID 0x4  /* family/remote_addr/remote_port are set */

struct tls_event {
	__u64 ts_ns; /* bpf_ktime_get_ns */
	__u64 ssl;   /* the SSL* in the traced process */
	__u32 pid;   /* thread id */
	__u32 tgid;  /* process id */
	__u32 uid;
	__s32 fd; /* socket fd, -1 if unknown */
	__u32 call_len;  /* bytes the SSL call returned */
	__u32 offset;    /* offset of data[] within the call */
	__u16 data_len;  /* bytes of data[] that follow this header */
	__u8 kind;       /* enum tls_event_kind */
	__u8 flags;      /* TLS_F_* */
	__u16 family;    /* AF_INET or AF_INET6 when TLS_F_ADDR_VALID */
	__u16 remote_port; /* host byte order */
	__u8 remote_addr[16]; /* IPv4 in the first 4 bytes */
	char comm[TLS_COMM_LEN];
	__u8 data[TLS_DATA_CAP];
};

/* Key of the SSL* -> socket cache (one per connection while the SSL lives). */
struct tls_conn_key {
	__u32 tgid;
	__u32 pad;
	__u64 ssl;
};

struct tls_conn_info {
	__s32 fd;
	__u16 family;
	__u16 remote_port;
	__u8 remote_addr[16];
};

/* Counters in the per-CPU array `tls_stats`, summed by userspace. */
enum tls_stat {
	TLS_STAT_EVENTS = 0,     /* events written to the ring buffer */
	TLS_STAT_LOST = 1,       /* events dropped: ring buffer full */
	TLS_STAT_NO_FD = 2,      /* calls whose socket could not be paired (not emitted) */
	TLS_STAT_READ_FAIL = 3,  /* plaintext could not be copied from user memory */
	TLS_STAT_MAX = 4,
};

#endif /* VEIL_BPF_TLS_ABI_H_ */
