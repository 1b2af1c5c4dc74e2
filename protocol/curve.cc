#include "protocol/curve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace skipjoin::protocol {
namespace {

namespace fs = std::filesystem;

constexpr size_t kZ85KeyChars = 40;

bool ValidZ85Key(const std::string& text) {
  if (text.size() != kZ85KeyChars) return false;
  uint8_t raw[32];
  return zmq_z85_decode(raw, text.c_str()) != nullptr;
}

std::string Trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

std::string ErrnoText() { return std::strerror(errno); }

// Writes `text` to `path` with `mode`, failing if it exists.
Status WriteExclusive(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return FailedPrecondition(path + " already exists");
    return Internal("cannot create " + path + ": " + ErrnoText());
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = ErrnoText();
      ::close(fd);
      ::unlink(path.c_str());
      return Internal("cannot write " + path + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    return Internal("cannot write " + path + ": " + ErrnoText());
  return Status::Ok();
}

std::string UniqueSuffix() {
  std::random_device rd;
  return std::to_string(getpid()) + "-" + std::to_string(rd());
}

// Publishes `text` at `path` only if nothing is there yet (written aside, then
// hard-linked: link() fails with EEXIST when another writer was first).
// Returns true when this call created it.
Result<bool> PublishOnce(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp-" + UniqueSuffix();
  SJ_RETURN_IF_ERROR(WriteExclusive(tmp, text, mode));
  const int rc = ::link(tmp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (rc == 0) return true;
  if (link_errno == EEXIST) return false;
  errno = link_errno;
  return Internal("cannot create " + path + ": " + ErrnoText());
}

std::string KeyFileText(const CurveKeypair& pair, std::string_view comment, bool with_secret) {
  std::ostringstream out;
  out << "# skipjoin CURVE " << (with_secret ? "keypair" : "public key") << ": " << comment << "\n";
  if (with_secret)
    out << "# Keep this file secret (mode 0600). Its public half is the .pub next to it.\n";
  out << "public-key = " << pair.public_key << "\n";
  if (with_secret) out << "secret-key = " << pair.secret_key << "\n";
  return out.str();
}

std::string PubPathFor(const std::string& key_path) {
  fs::path p(key_path);
  p.replace_extension(".pub");
  return p.string();
}

// Creates `dir/<stem>.key` (+ .pub) unless the .key exists; rewrites a missing .pub.
Status EnsureKeypair(const std::string& dir, const std::string& stem, const std::string& comment,
                     std::vector<std::string>* created) {
  const std::string key_path = dir + "/" + stem + ".key";
  std::error_code ec;
  if (!fs::exists(key_path, ec)) {
    SJ_ASSIGN_OR_RETURN(CurveKeypair pair, GenerateCurveKeypair());
    SJ_ASSIGN_OR_RETURN(bool mine, PublishOnce(key_path, KeyFileText(pair, comment, true), 0600));
    if (mine && created) created->push_back(key_path);
  }
  const std::string pub_path = PubPathFor(key_path);
  if (!fs::exists(pub_path, ec)) {
    SJ_ASSIGN_OR_RETURN(CurveKeypair pair, ReadCurveKeyFile(key_path, true));
    SJ_ASSIGN_OR_RETURN(bool mine, PublishOnce(pub_path, KeyFileText(pair, comment, false), 0644));
    if (mine && created) created->push_back(pub_path);
  }
  return Status::Ok();
}

}  // namespace

bool CurveAvailable() { return zmq_has("curve") != 0; }

Result<CurveKeypair> GenerateCurveKeypair() {
  if (!CurveAvailable()) {
    return Unimplemented("this libzmq was built without CURVE (libsodium); cannot make keys");
  }
  char pub[kZ85KeyChars + 1] = {}, sec[kZ85KeyChars + 1] = {};
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Internal(std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()));
  }
  return CurveKeypair{pub, sec};
}

Result<CurveKeypair> ReadCurveKeyFile(const std::string& path, bool want_secret) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return NotFound("key file " + path + ": " + ErrnoText() +
                    " (make the cluster's keys with `skipjoin keygen CONFIG`)");
  }
  if (want_secret && (st.st_mode & 077) != 0) {
    return FailedPrecondition("key file " + path +
                              " is readable by other users; chmod 600 it (it holds a secret key)");
  }
  std::ifstream in(path);
  if (!in) return NotFound("cannot open key file " + path);
  CurveKeypair pair;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    const auto eq = t.find('=');
    const std::string where = path + ":" + std::to_string(lineno) + ": ";
    if (eq == std::string::npos)
      return DataLoss(where + "expected 'public-key = ...' or 'secret-key = ...'");
    const std::string name = Trim(std::string_view(t).substr(0, eq));
    const std::string value = Trim(std::string_view(t).substr(eq + 1));
    std::string* slot = name == "public-key"   ? &pair.public_key
                        : name == "secret-key" ? &pair.secret_key
                                               : nullptr;
    if (slot == nullptr) return DataLoss(where + "unknown entry '" + name + "'");
    if (!slot->empty()) return DataLoss(where + "'" + name + "' given twice");
    if (!ValidZ85Key(value)) return DataLoss(where + name + " is not a 40-character Z85 CURVE key");
    *slot = value;
  }
  if (pair.public_key.empty()) return DataLoss(path + ": no public-key entry");
  if (!want_secret) {
    pair.secret_key.clear();
    return pair;
  }
  if (pair.secret_key.empty())
    return DataLoss(path + ": no secret-key entry (is this a .pub file?)");
  char derived[kZ85KeyChars + 1] = {};
  if (zmq_curve_public(derived, pair.secret_key.c_str()) != 0 || pair.public_key != derived) {
    return DataLoss(path + ": the public key is not the one of its secret key");
  }
  return pair;
}

Status WriteCurveKeyFiles(const std::string& key_path, const CurveKeypair& pair,
                          std::string_view comment) {
  SJ_RETURN_IF_ERROR(WriteExclusive(key_path, KeyFileText(pair, comment, true), 0600));
  return WriteExclusive(PubPathFor(key_path), KeyFileText(pair, comment, false), 0644);
}

Result<std::string> NodeKeyStem(std::string_view node) {
  if (node.empty() || node[0] == '.' || node.find('/') != std::string_view::npos ||
      node.find('\0') != std::string_view::npos) {
    return InvalidArgument("node name '" + std::string(node) + "' cannot name a key file");
  }
  return "node-" + std::string(node);
}

Status EnsureClusterKeys(const std::string& dir, const std::vector<std::string>& nodes,
                         std::string_view cluster_name, std::vector<std::string>* created) {
  const std::string cluster(cluster_name);
  std::vector<std::pair<std::string, std::string>> wanted;  // stem, comment
  wanted.emplace_back(kClusterKeyStem, "coordinator of cluster " + cluster);
  wanted.emplace_back(kClientKeyStem, "native client of cluster " + cluster);
  for (const std::string& n : nodes) {
    SJ_ASSIGN_OR_RETURN(std::string stem, NodeKeyStem(n));
    wanted.emplace_back(stem, "workers of node " + n + " of cluster " + cluster);
  }
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    // Built aside and renamed into place: a concurrent first use sees either
    // nothing or the whole set.
    const fs::path target(dir);
    fs::create_directories(target.parent_path(), ec);
    const std::string tmp = dir + ".tmp-" + UniqueSuffix();
    if (::mkdir(tmp.c_str(), 0700) != 0)
      return Internal("cannot create " + tmp + ": " + ErrnoText());
    std::vector<std::string> mine;
    for (const auto& [stem, comment] : wanted) {
      Status st = EnsureKeypair(tmp, stem, comment, &mine);
      if (!st.ok()) {
        fs::remove_all(tmp, ec);
        return st;
      }
    }
    if (::rename(tmp.c_str(), dir.c_str()) == 0) {
      if (created) {
        for (std::string& f : mine) created->push_back(dir + f.substr(tmp.size()));
      }
      return Status::Ok();
    }
    const int why = errno;
    fs::remove_all(tmp, ec);
    if (why != EEXIST && why != ENOTEMPTY) {
      errno = why;
      return Internal("cannot create " + dir + ": " + ErrnoText());
    }
    // Another process made it first: fall through and fill in what it lacks.
  }
  if (!fs::is_directory(dir, ec)) return FailedPrecondition(dir + " exists and is not a directory");
  for (const auto& [stem, comment] : wanted)
    SJ_RETURN_IF_ERROR(EnsureKeypair(dir, stem, comment, created));
  return Status::Ok();
}

Result<std::vector<AuthorizedKey>> LoadNodeKeys(const std::string& dir,
                                                const std::vector<std::string>& nodes) {
  std::vector<AuthorizedKey> out;
  for (const std::string& n : nodes) {
    SJ_ASSIGN_OR_RETURN(std::string stem, NodeKeyStem(n));
    SJ_ASSIGN_OR_RETURN(CurveKeypair pair, ReadCurveKeyFile(dir + "/" + stem + ".pub", false));
    out.push_back({pair.public_key, n});
  }
  return out;
}

Result<std::vector<AuthorizedKey>> LoadClientKeys(const std::string& dir) {
  std::vector<AuthorizedKey> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".pub" || name.rfind(kClientKeyStem, 0) != 0) continue;
    SJ_ASSIGN_OR_RETURN(CurveKeypair pair, ReadCurveKeyFile(e.path().string(), false));
    out.push_back({pair.public_key, e.path().stem().string()});
  }
  if (ec) return NotFound("cannot list key directory " + dir + ": " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.user_id < b.user_id; });
  return out;
}

}  // namespace skipjoin::protocol
