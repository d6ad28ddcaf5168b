// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * TLS plaintext tracing: uprobes on libssl.so.3's SSL_read/SSL_write(_ex) copy the plaintext of
 * each call into a ring buffer, for veild's `access: observe` endpoints (agent/bpf/tls_tracer.h).
 *
 * Pairing an SSL* with its socket does not read struct ssl_st or BIO offsets: those change across
 * OpenSSL versions and libpq installs its own BIO. Instead, while an SSL_* call is active on a
 * thread (map `active_calls`, keyed by pid_tgid), the first read/write/send/recv-family syscall
 * entered on that thread names the socket fd; its remote address is read from the kernel's
 * struct sock (CO-RE, so the process may exit before userspace looks). A call served from an
 * already-decrypted record makes no syscall; the fd then comes from `conn_cache`
 * (tgid, SSL*) -> fd, filled by earlier calls on the same SSL and cleared by SSL_free.
 *
 * Filtering: only processes in `watched_tgids` (or every process while `watch_all` is set) are
 * traced. The check happens at SSL_* entry, so for an unwatched process the cost is the uprobe
 * trap plus one hash lookup, and userspace is never woken.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "tls_abi.h"

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by userspace before load: veild's own tgid, never traced (it runs OpenSSL itself). */
const volatile __u32 self_tgid = 0;
/* Runtime switch (mmapped .bss): trace every process. For tests and debugging. */
__u32 watch_all = 0;

struct ssl_call {
	__u64 ssl;
	__u64 buf;
	__u64 len_ptr; /* size_t* of the *_ex variants, 0 otherwise */
	__u8 kind;     /* TLS_EV_READ or TLS_EV_WRITE */
	__u8 pad[7];
	struct tls_conn_info conn; /* conn.fd = -1 until a nested syscall names it */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} watched_tgids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ssl_call);
} active_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tls_conn_key);
	__type(value, struct tls_conn_info);
} conn_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tls_event);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TLS_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} tls_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized by userspace before load */
} tls_events SEC(".maps");

static __always_inline void count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&tls_stats, &stat);

	if (v)
		*v += 1;
}

static __always_inline bool watched(__u32 tgid)
{
	if (tgid == self_tgid)
		return false;
	if (watch_all)
		return true;
	return bpf_map_lookup_elem(&watched_tgids, &tgid) != NULL;
}

static __always_inline int on_entry(void *ssl, const void *buf, void *len_ptr, __u8 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_call call = {};

	if (!watched(id >> 32))
		return 0;
	call.ssl = (__u64)ssl;
	call.buf = (__u64)buf;
	call.len_ptr = (__u64)len_ptr;
	call.kind = kind;
	call.conn.fd = -1;
	bpf_map_update_elem(&active_calls, &id, &call, BPF_ANY);
	return 0;
}

/* The remote address of `fd` in the current task, if it is an inet socket. */
static __always_inline void read_remote(int fd, struct tls_conn_info *info)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock)
		return;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_INET) {
		__u32 addr = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memcpy(info->remote_addr, &addr, 4);
	} else if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&info->remote_addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return;
	}
	info->family = family;
	info->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

static __always_inline int on_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_call *call = bpf_map_lookup_elem(&active_calls, &id);

	if (!call || call->conn.fd >= 0)
		return 0;
	call->conn.fd = (int)ctx->args[0];
	read_remote(call->conn.fd, &call->conn);
	return 0;
}

static __always_inline struct tls_event *event_header(__u64 id, __u64 ssl, __u8 kind,
						      const struct tls_conn_info *conn)
{
	__u32 zero = 0;
	struct tls_event *ev = bpf_map_lookup_elem(&scratch, &zero);

	if (!ev)
		return NULL;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->ssl = ssl;
	ev->pid = (__u32)id;
	ev->tgid = id >> 32;
	ev->uid = (__u32)bpf_get_current_uid_gid();
	ev->kind = kind;
	ev->flags = 0;
	ev->call_len = 0;
	ev->offset = 0;
	ev->data_len = 0;
	ev->fd = conn ? conn->fd : -1;
	ev->family = 0;
	ev->remote_port = 0;
	__builtin_memset(ev->remote_addr, 0, sizeof(ev->remote_addr));
	if (conn && conn->family) {
		ev->family = conn->family;
		ev->remote_port = conn->remote_port;
		__builtin_memcpy(ev->remote_addr, conn->remote_addr, sizeof(ev->remote_addr));
		ev->flags |= TLS_F_ADDR_VALID;
	}
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	return ev;
}

static __always_inline int on_return(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ssl_call *call = bpf_map_lookup_elem(&active_calls, &id);
	struct tls_conn_key key = {};
	struct tls_conn_info conn;
	struct tls_event *ev;
	long rc = PT_REGS_RC(ctx);
	__u64 len = 0;
	__u8 flags = 0;
	int i;

	if (!call)
		return 0;
	key.tgid = id >> 32;
	key.ssl = call->ssl;
	conn = call->conn;
	if (conn.fd >= 0) {
		/* Cache even for failed calls (WANT_READ): the pairing is still right. */
		bpf_map_update_elem(&conn_cache, &key, &conn, BPF_ANY);
	} else {
		struct tls_conn_info *cached = bpf_map_lookup_elem(&conn_cache, &key);

		if (cached) {
			conn = *cached;
			flags |= TLS_F_FD_CACHED;
		}
	}
	if (call->len_ptr) {
		size_t n = 0;

		if ((int)rc == 1 && !bpf_probe_read_user(&n, sizeof(n), (void *)call->len_ptr))
			len = n;
	} else if ((int)rc > 0) {
		len = (__u32)rc;
	}
	if (len == 0)
		goto out;
	if (conn.fd < 0) {
		count(TLS_STAT_NO_FD);
		goto out;
	}
	ev = event_header(id, call->ssl, call->kind, &conn);
	if (!ev)
		goto out;
	ev->flags |= flags;
	ev->call_len = len > 0xffffffffULL ? 0xffffffffU : (__u32)len;

	for (i = 0; i < TLS_MAX_PIECES; i++) {
		__u32 off = i * TLS_DATA_CAP;
		__u32 n;

		if (off >= len)
			break;
		n = len - off > TLS_DATA_CAP ? TLS_DATA_CAP : len - off;
		if (i == TLS_MAX_PIECES - 1 && off + n < len)
			ev->flags |= TLS_F_TRUNCATED;
		ev->offset = off;
		ev->data_len = n;
		barrier_var(n);
		if (n > TLS_DATA_CAP)
			break;
		if (bpf_probe_read_user(ev->data, n, (void *)(call->buf + off))) {
			count(TLS_STAT_READ_FAIL);
			break;
		}
		if (bpf_ringbuf_output(&tls_events, ev, offsetof(struct tls_event, data) + n, 0))
			count(TLS_STAT_LOST);
		else
			count(TLS_STAT_EVENTS);
	}
out:
	bpf_map_delete_elem(&active_calls, &id);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_entry, void *ssl, void *buf, int num)
{
	return on_entry(ssl, buf, NULL, TLS_EV_READ);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_entry, void *ssl, const void *buf, int num)
{
	return on_entry(ssl, buf, NULL, TLS_EV_WRITE);
}

SEC("uprobe")
int BPF_KPROBE(ssl_read_ex_entry, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return on_entry(ssl, buf, readbytes, TLS_EV_READ);
}

SEC("uprobe")
int BPF_KPROBE(ssl_write_ex_entry, void *ssl, const void *buf, size_t num, size_t *written)
{
	return on_entry(ssl, buf, written, TLS_EV_WRITE);
}

SEC("uretprobe")
int ssl_rw_return(struct pt_regs *ctx)
{
	return on_return(ctx);
}

SEC("uprobe")
int BPF_KPROBE(ssl_free_entry, void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_conn_key key = {};
	struct tls_conn_info *cached;
	struct tls_event *ev;

	if (!ssl || !watched(id >> 32))
		return 0;
	key.tgid = id >> 32;
	key.ssl = (__u64)ssl;
	cached = bpf_map_lookup_elem(&conn_cache, &key);
	ev = event_header(id, key.ssl, TLS_EV_CLOSE, cached);
	if (ev) {
		if (bpf_ringbuf_output(&tls_events, ev, offsetof(struct tls_event, data), 0))
			count(TLS_STAT_LOST);
		else
			count(TLS_STAT_EVENTS);
	}
	if (cached)
		bpf_map_delete_elem(&conn_cache, &key);
	return 0;
}

#define SYSCALL_ENTER(name)                                                       \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                \
	int sys_enter_##name(struct trace_event_raw_sys_enter *ctx)                \
	{                                                                          \
		return on_sys_enter(ctx);                                          \
	}

SYSCALL_ENTER(read)
SYSCALL_ENTER(write)
SYSCALL_ENTER(recvfrom)
SYSCALL_ENTER(sendto)
SYSCALL_ENTER(readv)
SYSCALL_ENTER(writev)
SYSCALL_ENTER(recvmsg)
SYSCALL_ENTER(sendmsg)
