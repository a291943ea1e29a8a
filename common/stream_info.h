#pragma once
// What one stream (a TCP connection, or one HTTP request/response exchange) looked like: the
// worker's data path fills it; sample fetches, ACLs, header rules and log lines read it.
// Everything is a view or a number: building one allocates nothing.
#include <sys/socket.h>

#include <cstdint>
#include <string_view>

#include "common/http_head.h"

namespace proxyd::common {

class VarStore;  // common/vars.h

// Questions about the running process that some fetches ask (nbsrv(BACKEND), ...).
class ProxyStateView {
public:
    virtual ~ProxyStateView() = default;
    // Usable (not disabled, not in maintenance, weight > 0 or backup) servers of a backend, or -1
    // if there is no backend of that name.
    virtual int nbsrv(std::string_view backend) const = 0;
};

// Durations in ms, -1 when the phase was not reached (HAProxy's convention for logs).
struct StreamTimers {
    int64_t TR = -1;  // waiting for the full request head (from the start of the request)
    int64_t Tw = -1;  // in queues
    int64_t Tc = -1;  // TCP connect to the server
    int64_t Tr = -1;  // server response head (from the request sent)
    int64_t Ta = -1;  // whole request, from accept/request start to the last byte of the response
    int64_t Th = -1;  // handshake (0 without TLS)
    int64_t Ti = -1;  // idle before the request (keep-alive wait)
    int64_t Tt = -1;  // whole session (TCP logs)
};

struct StreamInfo {
    // Connection.
    const sockaddr_storage* src = nullptr;  // client address
    const sockaddr_storage* dst = nullptr;  // local address the client reached
    int64_t accept_unix_us = 0;             // accept (tcp) or request start (http), wall clock
    std::string_view frontend, backend, server;  // "" when not known yet; server "<NOSRV>" if none
    // HTTP (null in TCP mode, res null until a response head arrived).
    const HttpHead* req = nullptr;
    bool first_req = true;  // the first request of its client connection (http_first_req)
    const HttpHead* res = nullptr;
    // Outcome, for logs.
    int status = -1;                // HTTP status sent to the client (-1 none)
    uint64_t bytes_in = 0;          // from the client (request, headers included)
    uint64_t bytes_out = 0;         // to the client (response, headers included)
    StreamTimers t;
    char term[5] = {'-', '-', '-', '-', 0};  // termination state (tsc): cause, phase, cookie x2
    int retries = 0;
    bool redispatched = false;      // the stream was redispatched to another server (%rc gets a '+')
    // Server side, for logs (%si:%sp, %bi:%bp): null when no server connection was made.
    const sockaddr_storage* srv_addr = nullptr;  // the server's address
    const sockaddr_storage* srv_src = nullptr;   // the local address of the server connection
    uint64_t request_id = 0;        // %rt: the process's request/stream counter for this stream
    std::string_view unique_id;     // %ID ("" when none)
    // Concurrency at log time: %ac %fc %bc %sc, queues %sq %bq.
    int actconn = 0, feconn = 0, beconn = 0, srv_conn = 0, srv_queue = 0, backend_queue = 0;
    // Process.
    const ProxyStateView* state = nullptr;
    // Variables (set-var, var()): the stream's store, written through this pointer even by code
    // holding a const StreamInfo. Null: variables are unavailable (set-var does nothing).
    VarStore* vars = nullptr;
};

}  // namespace proxyd::common
