// An ordered list of HTTP header fields, as HTTP/1 and HTTP/2 both carry them. Names are stored
// lower-case (HTTP/2's rule, and what HTTP/1 matching wants), values as received. Pseudo-headers
// (":method", ":path", ":authority", ":scheme", ":status") live in the same list, first, the way
// Envoy models a request, so route matching treats them like any other header.
//
// Lookups are linear: a request carries a dozen headers, and a flat vector beats any hash map
// there. The fields live inside the map (inline storage for a typical message's dozen), so a
// heap-allocated HeaderMap is one allocation, not two.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "base/thread_free_list.h"

namespace weft::http {

struct HeaderField {
  std::string name;  // lower-case
  std::string value;
};

// Heap-allocated maps (one per request and response, each side) come from a per-thread free list.
class HeaderMap : public ThreadFreeList<HeaderMap> {
 public:
  HeaderMap() = default;

  // First value of `name` (lower-case), or nullptr.
  const std::string* Get(std::string_view name) const {
    for (const auto& f : fields_) {
      if (f.name == name) return &f.value;
    }
    return nullptr;
  }
  std::string_view GetOr(std::string_view name, std::string_view fallback = {}) const {
    const std::string* v = Get(name);
    return v ? std::string_view(*v) : fallback;
  }
  bool Has(std::string_view name) const { return Get(name) != nullptr; }

  // Appends a field; `name` must already be lower-case.
  void Add(std::string name, std::string value) {
    fields_.push_back({std::move(name), std::move(value)});
  }
  // Replaces every field called `name` with one, or appends it.
  void Set(std::string_view name, std::string value) {
    bool done = false;
    for (size_t i = 0; i < fields_.size();) {
      if (fields_[i].name == name) {
        if (!done) {
          fields_[i].value = std::move(value);
          done = true;
          ++i;
        } else {
          fields_.erase(fields_.begin() + static_cast<long>(i));
        }
      } else {
        ++i;
      }
    }
    if (!done) fields_.push_back({std::string(name), std::move(value)});
  }
  // Removes every field called `name`; returns how many.
  size_t Remove(std::string_view name) {
    size_t before = fields_.size();
    fields_.erase(std::remove_if(fields_.begin(), fields_.end(),
                                 [&](const HeaderField& f) { return f.name == name; }),
                  fields_.end());
    return before - fields_.size();
  }
  // All values of `name` joined by ",", as RFC 9110 allows for list-valued fields.
  std::string GetJoined(std::string_view name) const {
    std::string out;
    for (const auto& f : fields_) {
      if (f.name != name) continue;
      if (!out.empty()) out += ',';
      out += f.value;
    }
    return out;
  }

  size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  void clear() { fields_.clear(); }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }
  auto begin() { return fields_.begin(); }
  auto end() { return fields_.end(); }

  // Pseudo-header accessors.
  std::string_view Method() const { return GetOr(":method"); }
  std::string_view Path() const { return GetOr(":path"); }
  std::string_view Authority() const { return GetOr(":authority"); }
  std::string_view Scheme() const { return GetOr(":scheme"); }
  std::string_view Status() const { return GetOr(":status"); }

 private:
  // A typical proxied request's or response's fields, inside the map. 12 fields of 64 bytes keep
  // a heap-allocated map below glibc's 1 KiB large-bin threshold (16 did not): a large-bin
  // request makes malloc consolidate its fast bins, which showed up as ~20% of weft-proxy's CPU
  // with hundreds of HTTP/2 streams in flight. More fields spill to the heap.
  static constexpr size_t kInlineFields = 12;
  absl::InlinedVector<HeaderField, kInlineFields> fields_;
};

// ASCII lower-casing for header names.
inline std::string ToLowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  return out;
}

}  // namespace weft::http
