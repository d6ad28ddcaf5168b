/* The ABI between veil's redirect/flow BPF programs (bpf/redirect.bpf.c) and veild
 * (agent/bpf/runtime.cc): map keys, map values and ring-buffer events. Included by both sides,
 * so only fixed-width types, explicit padding and no pointers; the C++ side static_asserts the
 * sizes. Maps are pinned (see runtime.h), so changing a layout here makes a new veild unable to
 * adopt the old pins: it then fails with a message naming `RemoveAll` / `rm -rf` of the pin dir.
 *
 * Addresses are always 16 bytes in network byte order: IPv4 is stored IPv4-mapped
 * (::ffff:a.b.c.d), so an AF_INET6 socket dialling ::ffff:a.b.c.d (Java) matches the same entry as
 * an AF_INET socket dialling a.b.c.d. Ports are in host byte order.
 */
#ifndef VEIL_BPF_VEIL_ABI_H_
#define VEIL_BPF_VEIL_ABI_H_

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define VEIL_COMM_LEN 16

/* endpoint.flags */
#define VEIL_EP_OBSERVE (1u << 0)   /* trace only, never rewrite */
#define VEIL_EP_FAIL_OPEN (1u << 1) /* removed from the map on a clean veild stop */

/* flow.verdict / event.verdict; values match agent FlowVerdict. */
#define VEIL_VERDICT_REDIRECTED 0
#define VEIL_VERDICT_OBSERVED 1
#define VEIL_VERDICT_DIRECT 2

/* event.kind; values match FlowEvent::Kind. */
#define VEIL_EV_ESTABLISHED 0
#define VEIL_EV_CLOSED 1

/* Key of `endpoints` (upstream address) and of `peers` (client address of an established
 * socket, as veild sees it after accept()). */
struct veil_addr_key {
	__u32 addr[4]; /* network byte order, IPv4-mapped for IPv4 */
	__u16 port;    /* host byte order */
	__u16 pad;
};

/* Value of `endpoints`: where to send a connect aimed at the key. */
struct veil_endpoint {
	__u32 listen_addr[4]; /* network byte order, IPv4-mapped for IPv4 */
	__u16 listen_port;    /* host byte order */
	__u16 flags;          /* VEIL_EP_* */
};

/* The single entry of the `config` array: how to recognise veild's own sockets. A map (not a
 * const volatile) so that a restarted veild that adopts pinned programs can update it. Zero
 * disables a check. */
struct veil_config {
	__u32 own_tgid;
	__u32 own_mark; /* SO_MARK on veild's upstream sockets */
	__u64 own_cgroup_id;
	/* own_tgid only counts when the task's start time matches too, so that after a crash a
	 * process that is handed veild's old pid is not exempted. In clock ticks (/proc/PID/stat
	 * field 22); tick_ns = 1e9 / sysconf(_SC_CLK_TCK). */
	__u64 own_start_ticks;
	__u64 tick_ns;
};

/* The process that connected and where it went: value of `flows`, keyed by socket cookie.
 * Written by connect4/6, completed (src) by sockops. */
struct veil_flow {
	__u32 pid;
	__u32 tgid;
	__u32 uid;
	__u32 gid;
	__u64 start_time_ns; /* group_leader->start_boottime: /proc/TGID/stat field 22 * 1e9/HZ */
	__u64 cgroup_id;
	__u32 orig_addr[4];
	__u32 redir_addr[4];
	__u32 src_addr[4];
	__u16 orig_port;
	__u16 redir_port;
	__u16 src_port;
	__u8 verdict;
	__u8 family; /* AF_INET or AF_INET6: the socket's family */
	char comm[VEIL_COMM_LEN];
};

/* Ring-buffer record (`events`). */
struct veil_flow_event {
	__u8 kind;
	__u8 pad[7];
	__u64 cookie;
	__u64 ts_ns;
	__u64 bytes_acked;    /* client -> server payload, acked (kClosed) */
	__u64 bytes_received; /* server -> client payload (kClosed) */
	struct veil_flow flow;
};

#endif /* VEIL_BPF_VEIL_ABI_H_ */
