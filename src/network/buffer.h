// A growable byte buffer with a read cursor: bytes are appended at the tail and consumed from the
// head. One contiguous region, because the parsers want contiguous input and most proxied
// messages are small; it compacts instead of reallocating when the consumed head is large.
//
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace weft::network {

class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& other) noexcept { *this = std::move(other); }
  Buffer& operator=(Buffer&& other) noexcept {
    data_ = std::move(other.data_);
    capacity_ = other.capacity_;
    head_ = other.head_;
    tail_ = other.tail_;
    other.capacity_ = other.head_ = other.tail_ = 0;
    return *this;
  }

  size_t length() const { return tail_ - head_; }
  bool empty() const { return tail_ == head_; }
  const char* data() const { return data_.get() + head_; }
  std::string_view view() const { return {data(), length()}; }

  void Append(std::string_view bytes) {
    if (bytes.empty()) return;
    char* dst = Reserve(bytes.size());
    std::memcpy(dst, bytes.data(), bytes.size());
    Commit(bytes.size());
  }
  // Moves all of `other` to the end of this buffer.
  void Move(Buffer& other) {
    if (empty() && head_ == 0 && other.head_ == 0) {
      std::swap(data_, other.data_);
      std::swap(capacity_, other.capacity_);
      std::swap(tail_, other.tail_);
      other.head_ = other.tail_ = 0;
      return;
    }
    Append(other.view());
    other.Drain(other.length());
  }
  void Drain(size_t n) {
    head_ += (n < length() ? n : length());
    if (head_ == tail_) head_ = tail_ = 0;
  }
  void Clear() { head_ = tail_ = 0; }

  // Returns space for at least `n` bytes at the tail; Commit() says how many were written.
  char* Reserve(size_t n) {
    if (capacity_ - tail_ >= n) return data_.get() + tail_;
    size_t live = length();
    if (head_ > 0 && capacity_ - live >= n && head_ >= live) {
      // Compaction is cheap here: the live part is no larger than the hole before it.
      std::memmove(data_.get(), data_.get() + head_, live);
    } else {
      // A first small append (an HTTP/2 stream's body chunk, a response head) gets a small
      // block: 4 KiB is a large-bin request for glibc's malloc, which consolidates its fast bins
      // on every such call; the common tiny body should not pay for that.
      size_t cap = capacity_ ? capacity_ : (n <= kSmallFirstBlock ? kSmallFirstBlock : 4096);
      while (cap < live + n) cap *= 2;
      auto bigger = std::make_unique_for_overwrite<char[]>(cap);
      if (live) std::memcpy(bigger.get(), data_.get() + head_, live);
      data_ = std::move(bigger);
      capacity_ = cap;
    }
    head_ = 0;
    tail_ = live;
    return data_.get() + tail_;
  }
  void Commit(size_t n) { tail_ += n; }
  size_t TailRoom() const { return capacity_ - tail_; }

 private:
  static constexpr size_t kSmallFirstBlock = 512;
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t head_ = 0;
  size_t tail_ = 0;
};

}  // namespace weft::network
