#pragma once
// sd_notify through libsystemd. A no-op unless NOTIFY_SOCKET is set (systemd Type=notify,
// or -Ws). Only the master ever notifies: workers never see NOTIFY_SOCKET.
#include <string>

namespace proxyd::master {

void sd_notify_send(const std::string& msg);

}  // namespace proxyd::master
