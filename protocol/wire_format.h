// Internal to skipjoin_protocol (included by codec.cc and its tests only).
//
// Generic msgpack writing and strict reading of message structs. A struct is
// described once by a Fields(visitor, obj) overload that calls
// visitor("name", obj.member) for each member in order; the Writer packs it as a
// msgpack map keyed by those names and the Reader fills it back, refusing
// missing, unknown, duplicate and ill-typed fields with the path of the field
// ("sequences[2].sampling.top_k: expected an integer, got a string").
//
// Reading follows the static schema, so its recursion depth is bounded by the
// struct nesting, not by the input. Thread-compatible.
#pragma once

#include <concepts>
#include <cstdint>
#include <limits>
#include <msgpack.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/status.h"

namespace skipjoin::protocol::wire {

// Enums travel as strings. Specialize with a `static constexpr const char*
// kNames[]` indexed by the enum's (dense, zero-based) values.
template <typename E>
struct EnumNames;

template <typename T>
concept WireEnum = std::is_enum_v<T> && requires {
  EnumNames<T>::kNames;
};

// True for the message structs that have a Fields() overload.
template <typename T>
concept WireStruct = requires(T& t) {
  Fields(std::declval<int&>(), t);
};

template <typename S, typename T>
concept Is = std::same_as<std::remove_const_t<S>, T>;

const char* ObjectTypeName(const msgpack::object& o);

// ---------------------------------------------------------------------------
// Writer

class Writer {
 public:
  explicit Writer(msgpack::packer<msgpack::sbuffer>* pk) : pk_(pk) {}

  // Field visitor entry point: one map entry.
  template <typename T>
  void operator()(const char* name, const T& value) {
    pk_->pack(std::string_view(name));
    Write(value);
  }

  void Write(bool v) { pk_->pack(v); }
  void Write(const std::string& v) { pk_->pack(v); }
  void Write(const std::vector<uint8_t>& v) {
    pk_->pack_bin(static_cast<uint32_t>(v.size()));
    pk_->pack_bin_body(reinterpret_cast<const char*>(v.data()), static_cast<uint32_t>(v.size()));
  }
  template <typename T>
  requires(std::is_arithmetic_v<T> && !std::same_as<T, bool>) void Write(T v) { pk_->pack(v); }
  template <WireEnum E>
  void Write(E v) {
    pk_->pack(std::string_view(EnumNames<E>::kNames[static_cast<size_t>(v)]));
  }
  template <typename T>
  void Write(const std::optional<T>& v) {
    if (v) {
      Write(*v);
    } else {
      pk_->pack_nil();
    }
  }
  template <typename T>
  void Write(const std::vector<T>& v) {
    pk_->pack_array(static_cast<uint32_t>(v.size()));
    for (const T& e : v) Write(e);
  }
  template <WireStruct T>
  void Write(const T& v) {
    FieldCounter counter;
    Fields(counter, v);
    pk_->pack_map(counter.n);
    Fields(*this, v);
  }

 private:
  struct FieldCounter {
    uint32_t n = 0;
    template <typename T>
    void operator()(const char*, const T&) {
      ++n;
    }
  };
  msgpack::packer<msgpack::sbuffer>* pk_;
};

// ---------------------------------------------------------------------------
// Reader

class Reader {
 public:
  // Field visitor entry point, used while a map is being read (see ReadStruct).
  template <typename T>
  void operator()(const char* name, T& out) {
    if (!status_.ok()) return;
    const msgpack::object_map& map = *current_map_;
    for (uint32_t i = 0; i < map.size; ++i) {
      const msgpack::object& key = map.ptr[i].key;
      if (key.type == msgpack::type::STR &&
          std::string_view(key.via.str.ptr, key.via.str.size) == name) {
        if ((*matched_)[i]) continue;  // a duplicate; reported by ReadStruct
        (*matched_)[i] = true;
        path_.push_back(std::string(".") + name);
        Read(map.ptr[i].val, out);
        path_.pop_back();
        return;
      }
    }
    Fail(std::string("missing field '") + name + "'");
  }

  const Status& status() const { return status_; }

  void Read(const msgpack::object& o, bool& out) {
    if (o.type != msgpack::type::BOOLEAN) return TypeError("a boolean", o);
    out = o.via.boolean;
  }
  void Read(const msgpack::object& o, std::string& out) {
    if (o.type != msgpack::type::STR) return TypeError("a string", o);
    out.assign(o.via.str.ptr, o.via.str.size);
  }
  void Read(const msgpack::object& o, std::vector<uint8_t>& out) {
    if (o.type != msgpack::type::BIN) return TypeError("binary data", o);
    out.assign(o.via.bin.ptr, o.via.bin.ptr + o.via.bin.size);
  }
  template <std::integral T>
  requires(!std::same_as<T, bool>) void Read(const msgpack::object& o, T& out) {
    if (o.type == msgpack::type::POSITIVE_INTEGER) {
      if (o.via.u64 > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return Fail("integer " + std::to_string(o.via.u64) + " out of range");
      }
      out = static_cast<T>(o.via.u64);
    } else if (o.type == msgpack::type::NEGATIVE_INTEGER) {
      if constexpr (std::is_unsigned_v<T>) {
        return Fail("negative integer " + std::to_string(o.via.i64) +
                    " where an unsigned one is required");
      } else {
        if (o.via.i64 < static_cast<int64_t>(std::numeric_limits<T>::min())) {
          return Fail("integer " + std::to_string(o.via.i64) + " out of range");
        }
        out = static_cast<T>(o.via.i64);
      }
    } else {
      TypeError("an integer", o);
    }
  }
  // Floats also accept integers (other encoders pack 1.0 as 1).
  template <std::floating_point T>
  void Read(const msgpack::object& o, T& out) {
    switch (o.type) {
      case msgpack::type::FLOAT32:
      case msgpack::type::FLOAT64:
        out = static_cast<T>(o.via.f64);
        return;
      case msgpack::type::POSITIVE_INTEGER:
        out = static_cast<T>(o.via.u64);
        return;
      case msgpack::type::NEGATIVE_INTEGER:
        out = static_cast<T>(o.via.i64);
        return;
      default:
        return TypeError("a number", o);
    }
  }
  template <WireEnum E>
  void Read(const msgpack::object& o, E& out) {
    if (o.type != msgpack::type::STR) return TypeError("a string", o);
    std::string_view s(o.via.str.ptr, o.via.str.size);
    size_t i = 0;
    for (const char* name : EnumNames<E>::kNames) {
      if (s == name) {
        out = static_cast<E>(i);
        return;
      }
      ++i;
    }
    Fail("unknown value '" + std::string(s.substr(0, 64)) + "'");
  }
  template <typename T>
  void Read(const msgpack::object& o, std::optional<T>& out) {
    if (o.type == msgpack::type::NIL) {
      out.reset();
      return;
    }
    out.emplace();
    Read(o, *out);
  }
  template <typename T>
  void Read(const msgpack::object& o, std::vector<T>& out) {
    if (o.type != msgpack::type::ARRAY) return TypeError("an array", o);
    // Grow one element at a time: a short frame that claims many elements of a
    // big struct type fails at the first bad element instead of allocating them all.
    out.clear();
    for (uint32_t i = 0; i < o.via.array.size && status_.ok(); ++i) {
      path_.push_back("[" + std::to_string(i) + "]");
      Read(o.via.array.ptr[i], out.emplace_back());
      path_.pop_back();
    }
  }
  template <WireStruct T>
  void Read(const msgpack::object& o, T& out) {
    if (o.type != msgpack::type::MAP) return TypeError("a map", o);
    const msgpack::object_map* saved_map = current_map_;
    std::vector<bool>* saved_matched = matched_;
    std::vector<bool> matched(o.via.map.size, false);
    current_map_ = &o.via.map;
    matched_ = &matched;
    Fields(*this, out);
    current_map_ = saved_map;
    matched_ = saved_matched;
    if (!status_.ok()) return;
    for (uint32_t i = 0; i < o.via.map.size; ++i) {
      if (matched[i]) continue;
      const msgpack::object& key = o.via.map.ptr[i].key;
      if (key.type != msgpack::type::STR)
        return Fail(std::string("map key is ") + ObjectTypeName(key) + ", not a string");
      std::string k(key.via.str.ptr, std::min<size_t>(key.via.str.size, 64));
      bool duplicate = false;
      for (uint32_t j = 0; j < i; ++j) {
        const msgpack::object& other = o.via.map.ptr[j].key;
        if (other.type == msgpack::type::STR && matched[j] &&
            std::string_view(other.via.str.ptr, other.via.str.size) ==
                std::string_view(key.via.str.ptr, key.via.str.size)) {
          duplicate = true;
        }
      }
      return Fail((duplicate ? "duplicate field '" : "unknown field '") + k + "'");
    }
  }

  // Records the first error, with the current path.
  void Fail(const std::string& what) {
    if (!status_.ok()) return;
    std::string path;
    for (const std::string& p : path_) path += p;
    if (!path.empty() && path[0] == '.') path.erase(0, 1);
    status_ = DataLoss(path.empty() ? what : path + ": " + what);
  }

 private:
  void TypeError(const char* expected, const msgpack::object& o) {
    Fail(std::string("expected ") + expected + ", got " + ObjectTypeName(o));
  }

  Status status_;
  std::vector<std::string> path_;
  const msgpack::object_map* current_map_ = nullptr;
  std::vector<bool>* matched_ = nullptr;
};

}  // namespace skipjoin::protocol::wire
