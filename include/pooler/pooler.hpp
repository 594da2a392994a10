#pragma once

// pooler: Erlang-style supervision trees and pools of actors for CAF 0.17.
// Include this header for the whole public API; scale-out across nodes is
// <pooler/remote.hpp>, in the library pooler::remote.

#include "pooler/app.hpp"
#include "pooler/config_file.hpp"
#include "pooler/errors.hpp"
#include "pooler/metrics.hpp"
#include "pooler/pool_config.hpp"
#include "pooler/pool_types.hpp"
#include "pooler/supervisor.hpp"
#include "pooler/version.hpp"
