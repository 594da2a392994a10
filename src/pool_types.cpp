#include "pooler/pool_types.hpp"

namespace pooler {

std::string to_string(member_status x) {
  return x == member_status::ok ? "ok" : "fail";
}

std::string to_string(member_state x) {
  switch (x) {
    case member_state::starting: return "starting";
    case member_state::free: return "free";
    case member_state::in_use: return "in_use";
    case member_state::stopping: return "stopping";
    case member_state::checking: return "checking";
  }
  return "unknown";
}

std::string to_string(const reconfigure_action& x) {
  return x.name + "(" + x.argument + ")";
}

} // namespace pooler
