/* The ABI between veil's redirect/flow BPF programs (bpf/redirect.bpf.c) and veild
 * (agent/bpf/runtime.cc): map keys, map values and ring-buffer events. Included by both sides,
 * so only fixed-width types, explicit padding and no pointers; the C++ side static_asserts the
 * sizes. Maps are pinned (see runtime.h) under names that carry VEIL_ABI_VERSION: a veild with
 * another layout creates maps of its own, fills them, and only then swaps its programs into the
 * pinned links (then removes the old maps), so an upgrade never opens a gap in the redirect.
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

/* Bumped whenever a map's key or value layout changes; part of every map's pin name. */
#define VEIL_ABI_VERSION 2

#define VEIL_COMM_LEN 16
#define VEIL_UNIX_PATH_LEN 108 /* sizeof(sockaddr_un.sun_path) */
#define VEIL_CGROUP_NAME_LEN 128
#define VEIL_MAX_CGROUP_DEPTH 16 /* levels walked for a unit: principal */
#define VEIL_MAX_GROUPS 64       /* supplementary groups looked at for a group: principal */

/* endpoint.flags (and unix_target.flags) */
#define VEIL_EP_OBSERVE (1u << 0)   /* trace only, never rewrite */
#define VEIL_EP_FAIL_OPEN (1u << 1) /* removed from the map on a clean veild stop */
/* A loopback or unspecified address (127.0.0.0/8, ::1, 0.0.0.0, ::): it means this host only
 * from veild's network namespace; from another one it is that namespace's own. */
#define VEIL_EP_LOOPBACK (1u << 2)
/* Another address of this host (veild's namespace): a client in another network namespace
 * reaches it through routing, so with a wildcard listen address it is sent to (this address,
 * listen port). */
#define VEIL_EP_LOCAL (1u << 3)
/* veild's own listen address or socket: never recorded, redirected or refused. */
#define VEIL_EP_VEILD (1u << 4)

/* flow.verdict / event.verdict; values match agent FlowVerdict. */
#define VEIL_VERDICT_REDIRECTED 0
#define VEIL_VERDICT_OBSERVED 1
#define VEIL_VERDICT_DIRECT 2
#define VEIL_VERDICT_DENIED 3

/* flow.reason: why a connect was refused (DENIED) or passed (DIRECT to an endpoint). */
#define VEIL_REASON_NONE 0
#define VEIL_REASON_UNLISTED 1    /* agent.unlisted_databases: deny */
#define VEIL_REASON_UNREACHABLE 2 /* veild's listen address is not reachable from the client */
#define VEIL_REASON_EXEMPT 3      /* agent.direct_principals: passed to the endpoint directly */

/* event.kind; values match FlowEvent::Kind. */
#define VEIL_EV_ESTABLISHED 0
#define VEIL_EV_CLOSED 1
#define VEIL_EV_DENIED 2 /* refused in the connect hook: struct veil_flow_event */
#define VEIL_EV_UNIX 3   /* a unix-socket connect: struct veil_unix_event */

/* config.unlisted: what happens to a connect to a database port or socket no endpoint covers
 * (agent.unlisted_databases). */
#define VEIL_UNLISTED_OBSERVE 0
#define VEIL_UNLISTED_ALLOW 1
#define VEIL_UNLISTED_DENY 2

/* config.exempt: which exempt_* maps have entries (agent.direct_principals), so the connect
 * hooks skip the lookups that cannot match. */
#define VEIL_EXEMPT_UID (1u << 0)
#define VEIL_EXEMPT_GID (1u << 1)
#define VEIL_EXEMPT_CGROUP (1u << 2)
#define VEIL_EXEMPT_EXE (1u << 3)

#ifndef AF_UNIX
#define AF_UNIX 1
#endif

/* Key of `targets`, an LPM trie: port, then the address. prefixlen counts from the port (32 bits
 * of port + pad, then up to 128 of address): an exact IPv4 address is 32 + 128, 127.0.0.0/8 is
 * 32 + 96 + 8. */
struct veil_target_key {
	__u32 prefixlen;
	__u16 port; /* host byte order */
	__u16 pad;
	__u32 addr[4]; /* network byte order, IPv4-mapped for IPv4 */
};

/* Key of `peers`: the client address of an established socket, as veild sees it after
 * accept(). */
struct veil_addr_key {
	__u32 addr[4]; /* network byte order, IPv4-mapped for IPv4 */
	__u16 port;    /* host byte order */
	__u16 pad;
};

/* Value of `targets`: what a connect aimed at the key becomes. */
struct veil_endpoint {
	__u32 listen_addr[4]; /* network byte order, IPv4-mapped for IPv4 */
	__u16 listen_port;    /* host byte order */
	__u16 flags;          /* VEIL_EP_* */
	__u32 endpoint_id;    /* veild's id of the configured endpoint; 0 for VEIL_EP_VEILD */
};

/* Key of `unix_targets` and `db_socket_names`: the last component of a socket path (what
 * PostgreSQL names .s.PGSQL.PORT in whatever folder), or an abstract name with its leading NUL,
 * zero-padded. */
struct veil_unix_key {
	char name[VEIL_UNIX_PATH_LEN];
};

/* Value of `unix_targets`: veild's socket for that endpoint. */
struct veil_unix_target {
	char path[VEIL_UNIX_PATH_LEN];
	__u32 endpoint_id;
	__u16 flags; /* VEIL_EP_* */
	__u16 path_len;
};

/* The single entry of the `agent_config` array: how to recognise veild's own sockets, and the
 * policy for what no endpoint covers. A map (not a const volatile) so that a restarted veild that
 * adopts pinned programs can update it. Zero disables a check. */
struct veil_config {
	__u32 own_tgid;
	__u32 own_mark; /* SO_MARK on veild's upstream sockets */
	__u64 own_cgroup_id;
	/* own_tgid only counts when the task's start time matches too, so that after a crash a
	 * process that is handed veild's old pid is not exempted. In clock ticks (/proc/PID/stat
	 * field 22); tick_ns = 1e9 / sysconf(_SC_CLK_TCK). */
	__u64 own_start_ticks;
	__u64 tick_ns;
	__u64 own_netns_cookie; /* veild's network namespace (SO_NETNS_COOKIE); 0: any */
	__u8 unlisted;          /* VEIL_UNLISTED_* */
	__u8 exempt;            /* VEIL_EXEMPT_* */
	__u8 pad[6];
};

/* Key of `exempt_exes`: an executable by inode and the kernel's device number of its file
 * system (MKDEV(major, minor) = major << 20 | minor, not the st_dev userspace sees). */
struct veil_exe_key {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

/* Key of `exempt_cgroups`: a cgroup directory name (a unit, postgresql.service), zero-padded. */
struct veil_cgroup_name {
	char name[VEIL_CGROUP_NAME_LEN];
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
	__u8 family; /* AF_INET, AF_INET6 or AF_UNIX: the socket's family */
	char comm[VEIL_COMM_LEN];
	__u32 endpoint_id; /* 0: none */
	__u8 reason;       /* VEIL_REASON_* */
	__u8 pad[3];
};

/* A unix-socket connect: value of `unix_flows`, keyed by the client socket's inode (what
 * sock_diag names as the peer of the socket veild accepted). */
struct veil_unix_flow {
	struct veil_flow flow;
	char path[VEIL_UNIX_PATH_LEN]; /* what the client dialled, not NUL-terminated if full */
	__u32 path_len;
};

/* Ring-buffer record (`events`) of kinds ESTABLISHED, CLOSED and DENIED. */
struct veil_flow_event {
	__u8 kind;
	__u8 pad[7];
	__u64 cookie;
	__u64 ts_ns;
	__u64 bytes_acked;    /* client -> server payload, acked (kClosed) */
	__u64 bytes_received; /* server -> client payload (kClosed) */
	struct veil_flow flow;
};

/* Ring-buffer record of kind UNIX. */
struct veil_unix_event {
	__u8 kind;
	__u8 pad[7];
	__u64 inode; /* the client socket's inode */
	__u64 ts_ns;
	struct veil_unix_flow unix_flow;
};

/* Per-CPU scratch space of the hooks: more than the 512-byte BPF stack holds. */
struct veil_scratch {
	struct veil_unix_flow unix_flow;
	struct veil_unix_key key;
	char cgroup_name[VEIL_CGROUP_NAME_LEN];
};

#endif /* VEIL_BPF_VEIL_ABI_H_ */
