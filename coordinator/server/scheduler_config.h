// The scheduler's options from a cluster config's `scheduler` section (and the
// model and device keys its cost prior and stall bound default from).
#pragma once

#include "common/config/cluster_config.h"
#include "coordinator/scheduler/scheduler_options.h"

namespace skipjoin::server {

scheduler::SchedulerOptions SchedulerOptionsFrom(const config::ClusterConfig& config);

}  // namespace skipjoin::server
