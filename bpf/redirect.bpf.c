// SPDX-License-Identifier: GPL-2.0
/* veil's transparent redirect and flow tracing, attached to the cgroup v2 root.
 *
 * connect4/connect6: a connect() to a database port (`db_ports`: the built-in list and every
 * endpoint's port) is looked up in `targets`, an LPM trie of (port, address prefix): an
 * endpoint's addresses, its aliases and CIDRs, and, for an endpoint on this host, every local
 * address. A covered destination is rewritten to veild's listen address; an uncovered one is
 * recorded (agent.unlisted_databases: observe), let through unrecorded (allow) or refused with
 * EPERM (deny). The original destination and the calling process are stored by socket cookie in
 * `flows`. Principals of agent.direct_principals (`exempt_*`: uid, any group, the executable, or
 * a systemd unit found by name in the task's cgroup path) connect directly. veild's own sockets
 * (its tgid, cgroup or SO_MARK, see `agent_config`) are never touched, so its upstream
 * connections do not loop back into it.
 *
 * Network namespaces: a loopback address means this host only from veild's namespace; from
 * another one it is that namespace's own, never covered or refused. A client in another
 * namespace cannot reach a loopback listen address, so its connect to a covered address is
 * refused (VEIL_REASON_UNREACHABLE) unless veild listens on an address it can reach.
 *
 * connect_unix (kernel >= 6.7, loaded only where it verifies): a unix-socket connect whose last
 * path component (or abstract name) is in `unix_targets` is rewritten to veild's socket for that
 * endpoint; one to another database socket (.s.PGSQL.*, `db_socket_names`) follows the unlisted
 * policy. The path and the caller go to `unix_flows`, keyed by the client socket's inode, where
 * veild finds them after accept() through sock_diag.
 *
 * sockops: when a recorded TCP socket is established, (client address, client port) -> cookie
 * goes into `peers` so veild can find the flow of a socket it accepted, and a kEstablished event
 * goes to the `events` ring buffer; on the move to TCP_CLOSE a kClosed event carries the byte
 * counts and the entries are deleted. Refused and unix connects are reported from their hook.
 * Failed ring-buffer reservations are counted in `lost`.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "veil_abi.h"

#define AF_INET 2
#define AF_INET6 10
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

char LICENSE[] SEC("license") = "GPL";

/* Kernel >= 6.2 and 6.7; weak so that the object loads without connect_unix on older ones. */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;
extern int bpf_sock_addr_set_sun_path(struct bpf_sock_addr_kern *sa_kern, const __u8 *sun_path,
				      __u32 sun_path__sz) __ksym __weak;

/* kernfs_node.parent was renamed __parent in 6.15. */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct veil_target_key);
	__type(value, struct veil_endpoint);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} db_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct veil_unix_key);
	__type(value, struct veil_unix_target);
} unix_targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct veil_unix_key);
	__type(value, __u8);
} db_socket_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct veil_config);
} agent_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} exempt_uids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} exempt_gids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct veil_cgroup_name);
	__type(value, __u8);
} exempt_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct veil_exe_key);
	__type(value, __u8);
} exempt_exes SEC(".maps");

/* LRU: a connect that never completes leaves no close event to clean up after it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct veil_flow);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct veil_addr_key);
	__type(value, __u64);
} peers SEC(".maps");

/* Unix sockets have no close hook: entries age out of the LRU. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct veil_unix_flow);
} unix_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct veil_scratch);
} scratch SEC(".maps");

/* What a connect becomes. */
enum action { ACT_PASS, ACT_REWRITE, ACT_DENY };

/* The process's start time as /proc/TGID/stat reports it (boot-based, the group leader's). */
static __always_inline __u64 start_boottime(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, group_leader, start_boottime);
}

static __always_inline bool is_own_socket(struct bpf_sock_addr *ctx, const struct veil_config *cfg,
					  __u32 tgid)
{
	struct bpf_sock *sk;

	if (cfg->own_tgid && cfg->own_tgid == tgid && cfg->tick_ns &&
	    start_boottime() / cfg->tick_ns == cfg->own_start_ticks)
		return true;
	if (cfg->own_cgroup_id && cfg->own_cgroup_id == bpf_get_current_cgroup_id())
		return true;
	sk = ctx->sk;
	if (cfg->own_mark && sk && sk->mark == cfg->own_mark)
		return true;
	return false;
}

static __always_inline bool is_v4_mapped(const __u32 *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

static __always_inline bool is_unspecified(const __u32 *a)
{
	return a[0] == 0 && a[1] == 0 && (a[2] == 0 || a[2] == bpf_htonl(0xffff)) && a[3] == 0;
}

/* 127.0.0.0/8, ::1, 0.0.0.0, :: (the last two reach this host too). */
static __always_inline bool is_loopback(const __u32 *a)
{
	if (is_unspecified(a))
		return true;
	if (is_v4_mapped(a))
		return (bpf_ntohl(a[3]) >> 24) == 127;
	return a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == bpf_htonl(1);
}

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

/* Any supplementary group of the task in exempt_gids. */
static __noinline bool groups_exempt(struct task_struct *task)
{
	struct group_info *gi = BPF_CORE_READ(task, cred, group_info);
	int n, i;

	if (!gi)
		return false;
	n = BPF_CORE_READ(gi, ngroups);
	for (i = 0; i < VEIL_MAX_GROUPS; i++) {
		__u32 g;

		if (i >= n)
			break;
		if (bpf_probe_read_kernel(&g, sizeof(g), &gi->gid[i]))
			break;
		if (bpf_map_lookup_elem(&exempt_gids, &g))
			return true;
	}
	return false;
}

/* ".slice" at the end of the NUL-terminated name of n bytes (NUL included). */
static __always_inline bool ends_with_slice(const char *name, long n)
{
	__u32 i;

	if (n < 8 || n > VEIL_CGROUP_NAME_LEN)
		return false;
	i = (__u32)n - 7;
	if (i > VEIL_CGROUP_NAME_LEN - 6)
		return false;
	return name[i] == '.' && name[i + 1] == 's' && name[i + 2] == 'l' && name[i + 3] == 'i' &&
	       name[i + 4] == 'c' && name[i + 5] == 'e';
}

/* The task is in (or below) a cgroup named in exempt_cgroups, and every cgroup above that one
 * is a *.slice: where systemd puts its units. A user manager (user@UID.service) or a container
 * scope above it is not a slice, so nothing a user or a container names inside its own subtree
 * can pose as an exempt unit. */
static __noinline bool cgroup_exempt(struct task_struct *task)
{
	struct kernfs_node *kn = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn);
	struct veil_scratch *s;
	__u32 zero = 0;
	bool found = false;
	int i;

	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return false;
	for (i = 0; i < VEIL_MAX_CGROUP_DEPTH; i++) {
		struct kernfs_node *parent;
		const char *name;
		long n;

		if (!kn)
			return false;
		parent = kn_parent(kn);
		if (!parent)
			return found; /* kn is the root */
		name = BPF_CORE_READ(kn, name);
		__builtin_memset(s->cgroup_name, 0, sizeof(s->cgroup_name));
		n = bpf_probe_read_kernel_str(s->cgroup_name, sizeof(s->cgroup_name), name);
		if (n <= 0)
			return false;
		if (found) {
			if (!ends_with_slice(s->cgroup_name, n))
				return false;
		} else if (n < VEIL_CGROUP_NAME_LEN &&
			   bpf_map_lookup_elem(&exempt_cgroups, s->cgroup_name)) {
			found = true;
		}
		kn = parent;
	}
	return false;
}

static __noinline bool exe_exempt(struct task_struct *task)
{
	struct veil_exe_key key = {};
	struct inode *inode = BPF_CORE_READ(task, mm, exe_file, f_inode);

	if (!inode)
		return false;
	key.ino = BPF_CORE_READ(inode, i_ino);
	key.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	return bpf_map_lookup_elem(&exempt_exes, &key) != NULL;
}

/* The caller is one of agent.direct_principals. */
static __always_inline bool is_exempt(const struct veil_config *cfg, __u32 uid, __u32 gid)
{
	struct task_struct *task;
	__u8 kinds = cfg->exempt;

	if (!kinds)
		return false;
	if ((kinds & VEIL_EXEMPT_UID) && bpf_map_lookup_elem(&exempt_uids, &uid))
		return true;
	task = (struct task_struct *)bpf_get_current_task();
	if (kinds & VEIL_EXEMPT_GID) {
		if (bpf_map_lookup_elem(&exempt_gids, &gid))
			return true;
		if (groups_exempt(task))
			return true;
	}
	if ((kinds & VEIL_EXEMPT_EXE) && exe_exempt(task))
		return true;
	if ((kinds & VEIL_EXEMPT_CGROUP) && cgroup_exempt(task))
		return true;
	return false;
}

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);

	if (n)
		*n += 1;
}

static __always_inline void emit(__u8 kind, __u64 cookie, const struct veil_flow *flow,
				 __u64 acked, __u64 received)
{
	struct veil_flow_event *ev;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count_lost();
		return;
	}
	__builtin_memset(ev->pad, 0, sizeof(ev->pad));
	ev->kind = kind;
	ev->cookie = cookie;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->bytes_acked = acked;
	ev->bytes_received = received;
	__builtin_memcpy(&ev->flow, flow, sizeof(*flow));
	bpf_ringbuf_submit(ev, 0);
}

/* The caller's identity, common to every recorded connect. */
static __always_inline void fill_process(struct veil_flow *flow, __u64 pid_tgid, __u64 uid_gid,
					 __u8 family)
{
	flow->pid = (__u32)pid_tgid;
	flow->tgid = pid_tgid >> 32;
	flow->uid = (__u32)uid_gid;
	flow->gid = uid_gid >> 32;
	flow->start_time_ns = start_boottime();
	flow->cgroup_id = bpf_get_current_cgroup_id();
	flow->family = family;
	bpf_get_current_comm(flow->comm, sizeof(flow->comm));
}

/* Decides, records and (maybe) finds the address to rewrite to. key holds the destination
 * (prefixlen is set here). On ACT_REWRITE, *to and *to_port are the new destination. */
static __always_inline enum action handle_connect(struct bpf_sock_addr *ctx,
						  struct veil_target_key *key, __u8 family,
						  __u32 *to, __u16 *to_port)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct veil_flow flow = {};
	struct veil_endpoint *ep;
	struct veil_config *cfg;
	__u32 zero = 0;
	__u64 uid_gid;
	__u64 cookie;
	bool same_ns;

	cfg = bpf_map_lookup_elem(&agent_config, &zero);
	if (!cfg)
		return ACT_PASS;
	/* Every endpoint's port is a database port: other connects stop here, after one lookup. */
	if (!bpf_map_lookup_elem(&db_ports, &key->port))
		return ACT_PASS;
	if (is_own_socket(ctx, cfg, pid_tgid >> 32))
		return ACT_PASS;
	same_ns = !cfg->own_netns_cookie || bpf_get_netns_cookie(ctx) == cfg->own_netns_cookie;

	key->prefixlen = 32 + 128;
	ep = bpf_map_lookup_elem(&targets, key);
	if (ep && (ep->flags & VEIL_EP_LOOPBACK) && !same_ns)
		ep = NULL;
	if (ep && (ep->flags & VEIL_EP_VEILD))
		return ACT_PASS;

	uid_gid = bpf_get_current_uid_gid();
	fill_process(&flow, pid_tgid, uid_gid, family);
	__builtin_memcpy(flow.orig_addr, key->addr, sizeof(flow.orig_addr));
	flow.orig_port = key->port;
	cookie = bpf_get_socket_cookie(ctx);

	if (!ep) {
		/* Another namespace's own loopback is not this host's database. */
		bool own_loopback = !same_ns && is_loopback(key->addr);

		if (cfg->unlisted == VEIL_UNLISTED_ALLOW)
			return ACT_PASS;
		flow.verdict = VEIL_VERDICT_DIRECT;
		if (cfg->unlisted == VEIL_UNLISTED_DENY && !own_loopback) {
			if (is_exempt(cfg, (__u32)uid_gid, uid_gid >> 32)) {
				flow.reason = VEIL_REASON_EXEMPT;
			} else {
				flow.verdict = VEIL_VERDICT_DENIED;
				flow.reason = VEIL_REASON_UNLISTED;
				emit(VEIL_EV_DENIED, cookie, &flow, 0, 0);
				return ACT_DENY;
			}
		}
		bpf_map_update_elem(&flows, &cookie, &flow, BPF_ANY);
		return ACT_PASS;
	}

	flow.endpoint_id = ep->endpoint_id;
	if (ep->flags & VEIL_EP_OBSERVE) {
		flow.verdict = VEIL_VERDICT_OBSERVED;
		bpf_map_update_elem(&flows, &cookie, &flow, BPF_ANY);
		return ACT_PASS;
	}
	if (is_exempt(cfg, (__u32)uid_gid, uid_gid >> 32)) {
		flow.verdict = VEIL_VERDICT_DIRECT;
		flow.reason = VEIL_REASON_EXEMPT;
		bpf_map_update_elem(&flows, &cookie, &flow, BPF_ANY);
		return ACT_PASS;
	}

	__builtin_memcpy(to, ep->listen_addr, sizeof(ep->listen_addr));
	*to_port = ep->listen_port;
	if (!same_ns) {
		/* veild's loopback is not the client's; a wildcard listen address is reachable at the
		 * host address the client dialled, if it dialled one. */
		if (is_unspecified(to) && (ep->flags & VEIL_EP_LOCAL)) {
			__builtin_memcpy(to, key->addr, sizeof(key->addr));
		} else if (is_loopback(to)) {
			flow.verdict = VEIL_VERDICT_DENIED;
			flow.reason = VEIL_REASON_UNREACHABLE;
			emit(VEIL_EV_DENIED, cookie, &flow, 0, 0);
			return ACT_DENY;
		}
	}
	/* An AF_INET socket cannot be sent to an IPv6 listen address: refused, never direct. */
	if (family == AF_INET && !is_v4_mapped(to)) {
		flow.verdict = VEIL_VERDICT_DENIED;
		flow.reason = VEIL_REASON_UNREACHABLE;
		emit(VEIL_EV_DENIED, cookie, &flow, 0, 0);
		return ACT_DENY;
	}
	flow.verdict = VEIL_VERDICT_REDIRECTED;
	__builtin_memcpy(flow.redir_addr, to, sizeof(flow.redir_addr));
	flow.redir_port = *to_port;
	bpf_map_update_elem(&flows, &cookie, &flow, BPF_ANY);
	return ACT_REWRITE;
}

/* TCP and MPTCP (whose first subflow is TCP to the same address). */
static __always_inline bool is_stream(struct bpf_sock_addr *ctx)
{
	return ctx->protocol == IPPROTO_TCP || ctx->protocol == IPPROTO_MPTCP;
}

SEC("cgroup/connect4")
int veil_connect4(struct bpf_sock_addr *ctx)
{
	struct veil_target_key key = {};
	__u32 to[4] = {};
	__u16 to_port = 0;

	if (!is_stream(ctx))
		return 1;
	key.addr[2] = bpf_htonl(0xffff);
	key.addr[3] = ctx->user_ip4;
	key.port = bpf_ntohs((__u16)ctx->user_port);
	switch (handle_connect(ctx, &key, AF_INET, to, &to_port)) {
	case ACT_DENY:
		return 0;
	case ACT_REWRITE:
		ctx->user_ip4 = to[3];
		ctx->user_port = bpf_htons(to_port);
		return 1;
	default:
		return 1;
	}
}

SEC("cgroup/connect6")
int veil_connect6(struct bpf_sock_addr *ctx)
{
	struct veil_target_key key = {};
	__u32 to[4] = {};
	__u16 to_port = 0;

	if (!is_stream(ctx))
		return 1;
	key.addr[0] = ctx->user_ip6[0];
	key.addr[1] = ctx->user_ip6[1];
	key.addr[2] = ctx->user_ip6[2];
	key.addr[3] = ctx->user_ip6[3];
	key.port = bpf_ntohs((__u16)ctx->user_port);
	switch (handle_connect(ctx, &key, AF_INET6, to, &to_port)) {
	case ACT_DENY:
		return 0;
	case ACT_REWRITE:
		/* A v4 listen address is stored mapped, which is what an AF_INET6 socket dials. */
		ctx->user_ip6[0] = to[0];
		ctx->user_ip6[1] = to[1];
		ctx->user_ip6[2] = to[2];
		ctx->user_ip6[3] = to[3];
		ctx->user_port = bpf_htons(to_port);
		return 1;
	default:
		return 1;
	}
}

static __always_inline void emit_unix(__u64 inode, const struct veil_unix_flow *uf)
{
	struct veil_unix_event *ev;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count_lost();
		return;
	}
	__builtin_memset(ev->pad, 0, sizeof(ev->pad));
	ev->kind = VEIL_EV_UNIX;
	ev->inode = inode;
	ev->ts_ns = bpf_ktime_get_ns();
	__builtin_memcpy(&ev->unix_flow, uf, sizeof(*uf));
	bpf_ringbuf_submit(ev, 0);
}

/* ".s.PGSQL." : a PostgreSQL server's socket, in whatever folder. */
static __always_inline bool is_pg_socket_name(const char *n)
{
	return n[0] == '.' && n[1] == 's' && n[2] == '.' && n[3] == 'P' && n[4] == 'G' &&
	       n[5] == 'S' && n[6] == 'Q' && n[7] == 'L' && n[8] == '.';
}

struct scan_ctx {
	__u32 len;
	__u32 start; /* after the last '/' */
	__u32 end;   /* the first NUL, or len */
};

static long scan_path(__u32 i, void *data)
{
	struct scan_ctx *c = data;
	struct veil_scratch *s;
	__u64 idx = i;
	__u32 zero = 0;
	char ch;

	/* Keeps clang from re-deriving the index from the unchecked argument after the check. */
	asm volatile("" : "+r"(idx));
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s || idx >= c->len || idx >= VEIL_UNIX_PATH_LEN)
		return 1;
	ch = s->unix_flow.path[idx];
	if (ch == 0) {
		c->end = i;
		return 1;
	}
	if (ch == '/')
		c->start = i + 1;
	return 0;
}

SEC("cgroup/connect_unix")
int veil_connect_unix(struct bpf_sock_addr *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct bpf_sock_addr_kern *sa;
	struct veil_unix_target *t;
	struct veil_config *cfg;
	struct veil_scratch *s;
	struct unix_sock *us;
	struct veil_flow *flow;
	struct scan_ctx scan = {};
	__u64 first, end, n, len;
	__u32 zero = 0;
	__u64 uid_gid, inode = 0;
	bool deny = false;

	cfg = bpf_map_lookup_elem(&agent_config, &zero);
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!cfg || !s)
		return 1;
	if (is_own_socket(ctx, cfg, pid_tgid >> 32))
		return 1;
	sa = bpf_cast_to_kern_ctx(ctx);
	len = sa->uaddrlen;
	if (len <= 2) /* sizeof(sa_family_t): an unnamed address */
		return 1;
	len -= 2;
	if (len > VEIL_UNIX_PATH_LEN)
		len = VEIL_UNIX_PATH_LEN;
	asm volatile("" : "+r"(len)); /* the verifier must see the bound on len itself */
	if (len == 0 || len > VEIL_UNIX_PATH_LEN)
		return 1;

	__builtin_memset(&s->unix_flow, 0, sizeof(s->unix_flow));
	__builtin_memset(&s->key, 0, sizeof(s->key));
	if (bpf_probe_read_kernel(s->unix_flow.path, len,
				  ((struct sockaddr_un *)sa->uaddr)->sun_path))
		return 1;
	s->unix_flow.path_len = len;
	/* The name to match: what follows the last '/' of a path; an abstract name (leading NUL)
	 * whole. bpf_loop's callback is verified once; an open-coded scan would make the verifier
	 * walk every (last slash, end) pair. */
	scan.len = len;
	scan.end = len;
	if (s->unix_flow.path[0] != 0)
		bpf_loop(VEIL_UNIX_PATH_LEN, scan_path, &scan, 0);
	first = scan.start;
	end = scan.end;
	if (first >= end || end > VEIL_UNIX_PATH_LEN)
		return 1; /* "dir/": no name */
	n = end - first;
	asm volatile("" : "+r"(n)); /* check n itself, not what clang would re-derive it from */
	if (n == 0 || n > VEIL_UNIX_PATH_LEN)
		return 1;
	if (bpf_probe_read_kernel(s->key.name, n,
				  (const void *)((unsigned long)s->unix_flow.path + first)))
		return 1;

	t = bpf_map_lookup_elem(&unix_targets, &s->key);
	if (t && (t->flags & VEIL_EP_VEILD))
		return 1;
	if (!t && !is_pg_socket_name(s->key.name) &&
	    !bpf_map_lookup_elem(&db_socket_names, &s->key))
		return 1;

	flow = &s->unix_flow.flow;
	uid_gid = bpf_get_current_uid_gid();
	fill_process(flow, pid_tgid, uid_gid, AF_UNIX);
	if (!t) {
		if (cfg->unlisted == VEIL_UNLISTED_ALLOW)
			return 1;
		flow->verdict = VEIL_VERDICT_DIRECT;
		if (cfg->unlisted == VEIL_UNLISTED_DENY) {
			if (is_exempt(cfg, (__u32)uid_gid, uid_gid >> 32)) {
				flow->reason = VEIL_REASON_EXEMPT;
			} else {
				flow->verdict = VEIL_VERDICT_DENIED;
				flow->reason = VEIL_REASON_UNLISTED;
				deny = true;
			}
		}
	} else {
		flow->endpoint_id = t->endpoint_id;
		if (t->flags & VEIL_EP_OBSERVE) {
			flow->verdict = VEIL_VERDICT_OBSERVED;
		} else if (is_exempt(cfg, (__u32)uid_gid, uid_gid >> 32)) {
			flow->verdict = VEIL_VERDICT_DIRECT;
			flow->reason = VEIL_REASON_EXEMPT;
		} else {
			__u32 plen = t->path_len;

			flow->verdict = VEIL_VERDICT_REDIRECTED;
			/* Fail closed: a path that cannot be set refuses the connect. */
			if (plen == 0 || plen > VEIL_UNIX_PATH_LEN ||
			    bpf_sock_addr_set_sun_path(sa, (const __u8 *)t->path, plen)) {
				flow->verdict = VEIL_VERDICT_DENIED;
				flow->reason = VEIL_REASON_UNREACHABLE;
				deny = true;
			}
		}
	}

	us = bpf_skc_to_unix_sock(ctx->sk);
	if (us)
		inode = BPF_CORE_READ(us, sk.sk_socket, file, f_inode, i_ino);
	if (inode && !deny)
		bpf_map_update_elem(&unix_flows, &inode, &s->unix_flow, BPF_ANY);
	emit_unix(inode, &s->unix_flow);
	return deny ? 0 : 1;
}

/* bytes_acked and bytes_received count sequence space: our SYN (always acked once
 * established), our FIN once acked and the peer's FIN once received. The state the socket
 * leaves for TCP_CLOSE (args[0]) tells which FINs went through:
 *   FIN_WAIT2  ours acked; peer's received (normal close into TIME_WAIT)
 *   CLOSING    both       LAST_ACK  both       CLOSE_WAIT  peer's only
 *   ESTABLISHED, FIN_WAIT1  neither (reset or abort)
 * FIN_WAIT2 ended by a reset or the orphan timeout has no peer FIN; the received count is then
 * one short. */
static __always_inline __u64 payload_sent(struct bpf_sock_ops *skops)
{
	__u32 old = skops->args[0];
	__u64 n = skops->bytes_acked;
	__u64 ctl = 1;

	if (old == BPF_TCP_FIN_WAIT2 || old == BPF_TCP_CLOSING || old == BPF_TCP_LAST_ACK)
		ctl++;
	return n > ctl ? n - ctl : 0;
}

static __always_inline __u64 payload_received(struct bpf_sock_ops *skops)
{
	__u32 old = skops->args[0];
	__u64 n = skops->bytes_received;

	if (old == BPF_TCP_FIN_WAIT2 || old == BPF_TCP_CLOSING || old == BPF_TCP_LAST_ACK ||
	    old == BPF_TCP_CLOSE_WAIT)
		return n > 0 ? n - 1 : 0;
	return n;
}

SEC("sockops")
int veil_sockops(struct bpf_sock_ops *skops)
{
	struct veil_addr_key peer = {};
	struct veil_flow *flow;
	__u64 cookie;
	__u32 ip4;

	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		cookie = bpf_get_socket_cookie(skops);
		flow = bpf_map_lookup_elem(&flows, &cookie);
		if (!flow)
			return 1;
		/* Load every field unconditionally: clang would otherwise merge the two branches
		 * into one load at a computed ctx offset, which the verifier refuses. */
		ip4 = skops->local_ip4;
		peer.addr[0] = skops->local_ip6[0];
		peer.addr[1] = skops->local_ip6[1];
		peer.addr[2] = skops->local_ip6[2];
		peer.addr[3] = skops->local_ip6[3];
		if (skops->family == AF_INET) {
			peer.addr[0] = 0;
			peer.addr[1] = 0;
			peer.addr[2] = bpf_htonl(0xffff);
			peer.addr[3] = ip4;
		}
		peer.port = (__u16)skops->local_port; /* host byte order */
		__builtin_memcpy(flow->src_addr, peer.addr, sizeof(peer.addr));
		flow->src_port = peer.port;
		bpf_map_update_elem(&peers, &peer, &cookie, BPF_ANY);
		bpf_sock_ops_cb_flags_set(skops,
					  skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
		emit(VEIL_EV_ESTABLISHED, cookie, flow, 0, 0);
		return 1;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] != BPF_TCP_CLOSE)
			return 1;
		cookie = bpf_get_socket_cookie(skops);
		flow = bpf_map_lookup_elem(&flows, &cookie);
		if (!flow)
			return 1;
		emit(VEIL_EV_CLOSED, cookie, flow, payload_sent(skops), payload_received(skops));
		__builtin_memcpy(peer.addr, flow->src_addr, sizeof(peer.addr));
		peer.port = flow->src_port;
		bpf_map_delete_elem(&peers, &peer);
		bpf_map_delete_elem(&flows, &cookie);
		return 1;
	}
	return 1;
}
