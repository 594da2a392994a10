#pragma once

// One visitor from several lambdas, for std::visit over the book's effects.

namespace pooler {

template <class... Fs>
struct overload : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overload(Fs...) -> overload<Fs...>;

} // namespace pooler
