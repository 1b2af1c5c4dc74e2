// Host addresses in the cluster config: the address a process advertises
// (what others dial: coordinator.host, nodes[].host) and the one it binds
// (coordinator.bind, nodes[].bind), which may be a wildcard for every
// interface. ZeroMQ's tcp:// bind takes an interface name or an IP, never a
// host name ("No such device"), and Boost.Asio and civetweb want an IP too, so
// every bind goes through ResolveBindHost first.
//
// IPv4 only: the sockets are opened without IPv6 options. Pure functions
// apart from ResolveBindHost, which asks the resolver (getaddrinfo);
// thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace skipjoin {

// "0.0.0.0" or "*": every interface.
bool IsWildcardHost(std::string_view host);

// "" when `host` is an IPv4 address in dotted form ("10.0.0.1") or a host
// name (letters, digits, '-' and '.' labels of at most 63 characters, at most
// 253 in all, no leading or trailing '-'); else why not, e.g. "'tcp://a:1'
// is not an IPv4 address or host name (no scheme or port)". Wildcards are
// neither: the caller decides whether it takes one.
std::string HostSyntaxError(std::string_view host);

// The IPv4 address to bind for `host`: "0.0.0.0" for a wildcard, an IPv4
// address as it is, a host name resolved (its first IPv4 address).
// kInvalidArgument naming the host when it does not resolve.
Result<std::string> ResolveBindHost(const std::string& host);

}  // namespace skipjoin
