// SPDX-License-Identifier: GPL-2.0
/* veil's transparent redirect and flow tracing, attached to the cgroup v2 root.
 *
 * connect4/connect6: a connect() to a protected endpoint (`endpoints`) is rewritten to veild's
 * listen address; the original destination and the calling process are stored by socket cookie
 * in `flows`. A connect to a database port (`db_ports`) or an observe endpoint is recorded the
 * same way, without a rewrite. veild's own sockets (its tgid, cgroup or SO_MARK, see
 * `agent_config`) are never touched, so its upstream connections do not loop back into it.
 *
 * sockops: when such a socket is established, (client address, client port) -> cookie goes into
 * `peers` so veild can find the flow of a socket it accepted, and a kEstablished event goes to
 * the `events` ring buffer; on the move to TCP_CLOSE a kClosed event carries the byte counts and
 * the entries are deleted. Failed ring-buffer reservations are counted in `lost`.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "veil_abi.h"

#define AF_INET 2
#define AF_INET6 10

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct veil_addr_key);
	__type(value, struct veil_endpoint);
} endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u16);
	__type(value, __u8);
} db_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct veil_config);
} agent_config SEC(".maps");

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

/* The process's start time as /proc/TGID/stat reports it (boot-based, the group leader's). */
static __always_inline __u64 start_boottime(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, group_leader, start_boottime);
}

static __always_inline bool is_own_socket(struct bpf_sock_addr *ctx, __u32 tgid)
{
	__u32 zero = 0;
	struct veil_config *cfg = bpf_map_lookup_elem(&agent_config, &zero);
	struct bpf_sock *sk;

	if (!cfg)
		return false;
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

/* Decide, record and (maybe) rewrite. dst is the 16-byte destination. Returns the endpoint to
 * rewrite to, or NULL. */
static __always_inline struct veil_endpoint *
handle_connect(struct bpf_sock_addr *ctx, const struct veil_addr_key *dst, __u8 family)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid;
	struct veil_endpoint *ep;
	struct veil_flow flow = {};
	__u64 cookie;
	__u8 verdict;

	if (is_own_socket(ctx, pid_tgid >> 32))
		return NULL;

	ep = bpf_map_lookup_elem(&endpoints, dst);
	if (ep)
		verdict = (ep->flags & VEIL_EP_OBSERVE) ? VEIL_VERDICT_OBSERVED : VEIL_VERDICT_REDIRECTED;
	else if (bpf_map_lookup_elem(&db_ports, &dst->port))
		verdict = VEIL_VERDICT_DIRECT;
	else
		return NULL;

	/* A v4 endpoint cannot be rewritten to a v6 listen address from an AF_INET socket. */
	if (verdict == VEIL_VERDICT_REDIRECTED && family == AF_INET &&
	    !is_v4_mapped(ep->listen_addr))
		verdict = VEIL_VERDICT_DIRECT;

	uid_gid = bpf_get_current_uid_gid();
	flow.pid = (__u32)pid_tgid;
	flow.tgid = pid_tgid >> 32;
	flow.uid = (__u32)uid_gid;
	flow.gid = uid_gid >> 32;
	flow.start_time_ns = start_boottime();
	flow.cgroup_id = bpf_get_current_cgroup_id();
	__builtin_memcpy(flow.orig_addr, dst->addr, sizeof(flow.orig_addr));
	flow.orig_port = dst->port;
	flow.verdict = verdict;
	flow.family = family;
	bpf_get_current_comm(flow.comm, sizeof(flow.comm));
	if (verdict == VEIL_VERDICT_REDIRECTED) {
		__builtin_memcpy(flow.redir_addr, ep->listen_addr, sizeof(flow.redir_addr));
		flow.redir_port = ep->listen_port;
	}
	cookie = bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&flows, &cookie, &flow, BPF_ANY);
	return verdict == VEIL_VERDICT_REDIRECTED ? ep : NULL;
}

SEC("cgroup/connect4")
int veil_connect4(struct bpf_sock_addr *ctx)
{
	struct veil_addr_key dst = {};
	struct veil_endpoint *ep;

	if (ctx->protocol != IPPROTO_TCP)
		return 1;
	dst.addr[2] = bpf_htonl(0xffff);
	dst.addr[3] = ctx->user_ip4;
	dst.port = bpf_ntohs((__u16)ctx->user_port);
	ep = handle_connect(ctx, &dst, AF_INET);
	if (ep) {
		ctx->user_ip4 = ep->listen_addr[3];
		ctx->user_port = bpf_htons(ep->listen_port);
	}
	return 1;
}

SEC("cgroup/connect6")
int veil_connect6(struct bpf_sock_addr *ctx)
{
	struct veil_addr_key dst = {};
	struct veil_endpoint *ep;

	if (ctx->protocol != IPPROTO_TCP)
		return 1;
	dst.addr[0] = ctx->user_ip6[0];
	dst.addr[1] = ctx->user_ip6[1];
	dst.addr[2] = ctx->user_ip6[2];
	dst.addr[3] = ctx->user_ip6[3];
	dst.port = bpf_ntohs((__u16)ctx->user_port);
	ep = handle_connect(ctx, &dst, AF_INET6);
	if (ep) {
		/* A v4 listen address is stored mapped, which is what an AF_INET6 socket dials. */
		ctx->user_ip6[0] = ep->listen_addr[0];
		ctx->user_ip6[1] = ep->listen_addr[1];
		ctx->user_ip6[2] = ep->listen_addr[2];
		ctx->user_ip6[3] = ep->listen_addr[3];
		ctx->user_port = bpf_htons(ep->listen_port);
	}
	return 1;
}

static __always_inline void emit(__u8 kind, __u64 cookie, const struct veil_flow *flow,
				 __u64 acked, __u64 received)
{
	struct veil_flow_event *ev;
	__u32 zero = 0;
	__u64 *n;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			*n += 1;
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
