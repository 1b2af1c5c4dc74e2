// CURVE keys of a cluster (ZeroMQ's CurveZMQ: Curve25519 keys, Z85 text).
//
// One directory holds a cluster's keys (docs/SECURITY.md):
//   cluster.key / cluster.pub   the coordinator's server keypair; every node
//                               and client needs cluster.pub
//   node-<name>.key / .pub      one client keypair per node of the config; the
//                               workers of that node use node-<name>.key, and
//                               the coordinator lets it register for that node
//                               only
//   client.key / .pub           the default native client keypair; any
//   client-<label>.key / .pub   client*.pub in the directory may use the
//                               native port
// A .key file holds both halves and is mode 0600; a .pub file only the public
// half. Format: "#" comment lines, then "public-key = <40 Z85 chars>" and (in
// .key files) "secret-key = <40 Z85 chars>".
//
// Value types and free functions; thread-compatible. Generation uses libzmq's
// zmq_curve_keypair (libsodium's randomness).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skipjoin::protocol {

// Z85 text, 40 characters each (the form zmq sockopts take).
struct CurveKeypair {
  std::string public_key;
  std::string secret_key;  // empty in a key read from a .pub file
};

// Whether this libzmq was built with CURVE (libsodium).
bool CurveAvailable();
Result<CurveKeypair> GenerateCurveKeypair();

// Reads a .key (want_secret) or .pub file; errors name the file and line.
Result<CurveKeypair> ReadCurveKeyFile(const std::string& path, bool want_secret);
// Writes `pair` as `path` (.key: both halves, mode 0600) and its public half
// as the .pub next to it. `comment` goes in the header line.
Status WriteCurveKeyFiles(const std::string& key_path, const CurveKeypair& pair,
                          std::string_view comment);

// File names inside a cluster's key directory. A node name that cannot be a
// file name (empty, '/', a leading '.') is kInvalidArgument.
Result<std::string> NodeKeyStem(std::string_view node);  // "node-<node>"
inline constexpr const char* kClusterKeyStem = "cluster";
inline constexpr const char* kClientKeyStem = "client";

// Makes sure `dir` holds the cluster keypair, one keypair per node in `nodes`
// and the default client keypair; creates what is missing. Safe against
// concurrent callers on the same directory (a first-time directory is built
// aside and renamed into place; later additions are created exclusively).
// `created` (optional) gets the files written.
Status EnsureClusterKeys(const std::string& dir, const std::vector<std::string>& nodes,
                         std::string_view cluster_name,
                         std::vector<std::string>* created = nullptr);

// The public keys allowed on one port, each with the user id the ZAP handler
// reports for it (node name, or client label).
struct AuthorizedKey {
  std::string public_key;  // Z85
  std::string user_id;
};
// Node keys of `nodes` in `dir` (user id: the node name).
Result<std::vector<AuthorizedKey>> LoadNodeKeys(const std::string& dir,
                                                const std::vector<std::string>& nodes);
// Every client*.pub in `dir` (user id: "client" or "client-<label>").
Result<std::vector<AuthorizedKey>> LoadClientKeys(const std::string& dir);

}  // namespace skipjoin::protocol
