#include "worker/cli_commands.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/config.h"
#include "worker/stats.h"

using namespace proxyd::worker;
using proxyd::common::Config;
using proxyd::common::ConfigSource;

namespace {

// A listen section (one server), and a frontend with a backend of three servers: one
// plain, one disabled in the configuration, one backup (IPv6, with a maxconn).
const char* const kConfig =
    "global\n"
    "    maxconn 1000\n"
    "defaults\n"
    "    mode tcp\n"
    "    timeout connect 5s\n"
    "    timeout client 30s\n"
    "    timeout server 30s\n"
    "listen app\n"
    "    bind 127.0.0.1:8080\n"
    "    maxconn 100\n"
    "    server a1 127.0.0.1:9001\n"
    "frontend fe\n"
    "    bind 127.0.0.1:8443\n"
    "    maxconn 500\n"
    "    default_backend be\n"
    "backend be\n"
    "    server s1 127.0.0.1:9101 weight 10\n"
    "    server s2 127.0.0.1:9102 disabled\n"
    "    server s3 [::1]:9103 backup maxconn 5\n";

int64_t steady_sec() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// WorkerView over a parsed configuration with real counters, as the runtime keeps them.
class FakeWorker : public WorkerView {
public:
    struct ServerState {
        Counters counters;
        AdminState admin = AdminState::Ready;
        int weight = 1;
        int cur_conns = 0;
    };
    struct ProxyState {
        Counters fe, be;
        bool paused = false;
        std::deque<ServerState> servers;  // stable addresses
    };

    explicit FakeWorker(const std::string& text = kConfig) {
        std::vector<ConfigSource> src{{"test.cfg", text}};
        auto env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
        auto r = proxyd::common::parse_config(src, env, false);
        if (!r.config) {
            std::string msg;
            for (const auto& d : r.errors)
                msg += d.message + "\n";
            throw std::runtime_error("bad test config: " + msg);
        }
        cfg_ = std::make_unique<Config>(*r.config);
        for (const auto& p : cfg_->proxies) {
            auto& st = state_.emplace_back();
            for (const auto& s : p.servers) {
                auto& ss = st.servers.emplace_back();
                ss.admin = s.disabled ? AdminState::Maint : AdminState::Ready;
                ss.weight = s.weight;
            }
        }
        pi.pid = 4242;
        pi.generation = 1;
        pi.index = 1;
        pi.worker_count = 1;
        pi.start_time_sec = 1'700'000'000;
        pi.uptime_sec = 3665;
        pi.ulimit_n = 2048;
        pi.maxsock = 2048;
        pi.maxconn = 1000;
        pi.hard_maxconn = 1000;
        pi.node = "host1";
        pi.listeners = 2;
        pi.jobs = 2;
    }

    ProcessInfo info() const override { return pi; }

    std::vector<ProxyView> proxies() override {
        std::vector<ProxyView> out;
        for (size_t i = 0; i < cfg_->proxies.size(); ++i) {
            const auto& p = cfg_->proxies[i];
            auto& st = state_[i];
            ProxyView v;
            v.conf = &p;
            v.is_frontend = p.is_frontend;
            v.is_backend = p.is_backend;
            v.fe = p.is_frontend ? &st.fe : nullptr;
            v.be = p.is_backend ? &st.be : nullptr;
            v.fe_maxconn = p.maxconn;
            v.fe_paused = st.paused;
            for (size_t s = 0; s < p.servers.size(); ++s) {
                auto& ss = st.servers[s];
                v.servers.push_back(ServerView{&p.servers[s], &ss.counters, &ss.admin, &ss.weight, ss.cur_conns});
            }
            out.push_back(std::move(v));
        }
        return out;
    }

    std::vector<SessionView> sessions() const override { return sessions_; }

    void server_changed(const std::string& backend, const std::string& server) override {
        changes.push_back(backend + "/" + server);
    }

    ProxyState& proxy(const std::string& name) {
        for (size_t i = 0; i < cfg_->proxies.size(); ++i)
            if (cfg_->proxies[i].name == name)
                return state_[i];
        throw std::runtime_error("no proxy " + name);
    }

    ProcessInfo pi;
    std::vector<SessionView> sessions_;
    std::vector<std::string> changes;

private:
    std::unique_ptr<Config> cfg_;
    std::deque<ProxyState> state_;
};

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string l;
    while (std::getline(in, l))
        out.push_back(l);
    return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out(1);
    for (char c : s) {
        if (c == sep)
            out.emplace_back();
        else
            out.back() += c;
    }
    return out;
}

// The CSV rows (not the header, not the final empty line) of a `show stat` reply.
std::vector<std::vector<std::string>> csv_rows(const std::string& reply) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : lines_of(reply))
        if (!l.empty() && l[0] != '#')
            rows.push_back(split(l, ','));
    return rows;
}

size_t column(const std::string& reply, const std::string& name) {
    auto header = split(lines_of(reply).at(0).substr(2), ',');
    for (size_t i = 0; i < header.size(); ++i)
        if (header[i] == name)
            return i;
    throw std::runtime_error("no column " + name);
}

std::string cell(const std::string& reply, const std::string& px, const std::string& sv, const std::string& name) {
    size_t c = column(reply, name);
    for (const auto& r : csv_rows(reply))
        if (r.at(0) == px && r.at(1) == sv)
            return r.at(c);
    throw std::runtime_error("no row " + px + "/" + sv);
}

// The value of "Name: value" in a `show info` reply.
std::string info_value(const std::string& reply, const std::string& name) {
    for (const auto& l : lines_of(reply))
        if (l.rfind(name + ": ", 0) == 0)
            return l.substr(name.size() + 2);
    throw std::runtime_error("no field " + name);
}

// Valid JSON according to Python's parser.
bool valid_json(const std::string& text) {
    char path[] = "/tmp/proxyd-cli-json-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
    std::string cmd = std::string("python3 -m json.tool ") + path + " >/dev/null 2>&1";
    int rc = std::system(cmd.c_str());
    unlink(path);
    return rc == 0;
}

std::string run(FakeWorker& w, const std::string& line, CliLevel level = CliLevel::Admin) {
    return run_worker_command(w, line, level);
}

const char* const kStatHeader =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,"
    "weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,"
    "rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,"
    "hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,"
    "lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,"
    "agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,"
    "conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,"
    "srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,"
    "used_conn_cur,need_conn_est,uweight,agg_server_check_status,-,";

const char* const kServersStateHeader =
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
    "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
    "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
    "srv_check_addr srv_agent_addr srv_agent_port";

}  // namespace

TEST_CASE("rate meter counts the current second, then the last complete one", "[cli][stats]") {
    RateMeter m;
    m.add(100);
    m.add(100, 2);
    CHECK(m.rate(100) == 3);
    CHECK(m.rate(101) == 3);  // second 100 is the last complete second
    CHECK(m.rate(102) == 0);
    CHECK(m.rate(99) == 0);
    m.add(101);
    CHECK(m.prev == 3);
    CHECK(m.rate(101) == 1);
    m.add(105, 4);  // after a gap nothing happened in the second before
    CHECK(m.prev == 0);
    CHECK(m.rate(105) == 4);
    CHECK(m.rate(106) == 4);
    CHECK(m.rate(107) == 0);

    Counters c;
    c.open(10);
    c.open(10);
    c.open(10);
    c.close();
    c.open(11);
    CHECK(c.cur == 3);
    CHECK(c.max == 3);
    CHECK(c.total == 4);
    CHECK(c.rate_max == 3);
    c.close();
    c.close();
    c.close();
    c.close();  // never below zero
    CHECK(c.cur == 0);
}

TEST_CASE("help lists the commands of the level, sorted, HAProxy style", "[cli]") {
    FakeWorker w;
    auto user = run(w, "help", CliLevel::User);
    auto admin = run(w, "help", CliLevel::Admin);
    auto oper = run(w, "help", CliLevel::Operator);
    CHECK(user.rfind("The following commands are valid at this level:\n", 0) == 0);
    CHECK(user.find("  show info [json|typed]*                 : report information about the running process\n") !=
          std::string::npos);
    CHECK(user.find("show stat") != std::string::npos);
    CHECK(user.find("show servers state") != std::string::npos);
    CHECK(user.find("get weight") != std::string::npos);
    CHECK(user.find("show sess") == std::string::npos);
    CHECK(user.find("disable server") == std::string::npos);
    CHECK(oper.find("show sess") != std::string::npos);
    CHECK(oper.find("set server") == std::string::npos);
    for (const char* c : {"disable server", "enable server", "set server", "set weight", "show sess"})
        CHECK(admin.find(c) != std::string::npos);
    auto ls = lines_of(admin);
    CHECK(ls.back() == "  help [<command>]                        : list matching or all commands");
    // Sorted by usage text; the ':' before each description at column 42 (2 + 40).
    for (size_t i = 1; i < ls.size(); ++i) {
        INFO(ls[i]);
        CHECK(ls[i].substr(0, 2) == "  ");
        CHECK(ls[i].find(':') == 42);
        if (i >= 2 && i + 1 < ls.size())
            CHECK(ls[i - 1] < ls[i]);
    }
    // "help <words>" narrows the list.
    auto show = run(w, "help show servers");
    CHECK(show.find("show servers state") != std::string::npos);
    CHECK(show.find("show info") == std::string::npos);
}

TEST_CASE("unknown commands, empty lines and word splitting", "[cli]") {
    FakeWorker w;
    CHECK(run(w, "") == "");
    CHECK(run(w, "  \t \r\n") == "");
    auto r = run(w, "frobnicate now", CliLevel::User);
    CHECK(r.rfind("Unknown command: 'frobnicate', but maybe one of the following ones is a better match:\n", 0) == 0);
    CHECK(r.find("  show info") != std::string::npos);
    CHECK(r.find("disable server") == std::string::npos);  // not at this level
    auto s = run(w, "show nothing");
    CHECK(s.rfind("Unknown command: 'show'", 0) == 0);
    CHECK(s.find("show stat") != std::string::npos);
    CHECK(s.find("set server") == std::string::npos);
    // An incomplete command is unknown too.
    CHECK(run(w, "show servers").find("  show servers state") != std::string::npos);
    // Blanks are spaces and tabs; a trailing newline is not part of the command.
    CHECK(run(w, "\tshow\t info  \n").rfind("Name: proxyd\n", 0) == 0);
    // A backslash escapes a blank.
    CHECK(run(w, "get weight be/no\\ such") == "No such server.\n");
}

TEST_CASE("levels: commands above the session's level are refused", "[cli]") {
    FakeWorker w;
    for (const char* c : {"disable server be/s1", "enable server be/s1", "set server be/s1 state drain",
                          "set server be/s1 weight 3", "set weight be/s1 3", "show sess"}) {
        INFO(c);
        CHECK(run(w, c, CliLevel::User) == "Permission denied\n");
    }
    for (const char* c : {"disable server be/s1", "enable server be/s1", "set server be/s1 state drain",
                          "set weight be/s1 3"}) {
        INFO(c);
        CHECK(run(w, c, CliLevel::Operator) == "Permission denied\n");
    }
    // The level is checked before the arguments.
    CHECK(run(w, "disable server", CliLevel::Operator) == "Permission denied\n");
    CHECK(w.changes.empty());
    CHECK(run(w, "show sess", CliLevel::Operator) == "\n");
    CHECK(run(w, "show info", CliLevel::User).rfind("Name: proxyd\n", 0) == 0);
    CHECK(run(w, "show stat", CliLevel::User).rfind(kStatHeader, 0) == 0);
    CHECK(run(w, "show servers state", CliLevel::User).rfind("1\n", 0) == 0);
    CHECK(run(w, "get weight be/s1", CliLevel::User) == "10 (initial 10)\n");
}

TEST_CASE("show info: HAProxy's fields, in order", "[cli][info]") {
    FakeWorker w;
    w.pi.cur_conns = 7;
    w.pi.cum_conns = 1234;
    w.pi.stopping = true;
    auto r = run(w, "show info", CliLevel::User);
    const std::vector<std::string> expected = {
        "Name: proxyd",
        "Version: 0.1.0",
        "Release_date: 2026/11/24",
        "Nbthread: 1",
        "Nbproc: 1",
        "Process_num: 1",
        "Pid: 4242",
        "Uptime: 0d 1h01m05s",
        "Uptime_sec: 3665",
        "Memmax_MB: 0",
        "PoolAlloc_MB: 0",
        "PoolUsed_MB: 0",
        "PoolFailed: 0",
        "Ulimit-n: 2048",
        "Maxsock: 2048",
        "Maxconn: 1000",
        "Hard_maxconn: 1000",
        "CurrConns: 7",
        "CumConns: 1234",
        "CumReq: 0",
        "Maxpipes: 0",
        "PipesUsed: 0",
        "PipesFree: 0",
        "ConnRate: 0",
        "ConnRateLimit: 0",
        "MaxConnRate: 0",
        "SessRate: 0",
        "SessRateLimit: 0",
        "MaxSessRate: 0",
        "Tasks: 2",
        "Run_queue: 0",
        "Idle_pct: 100",
        "node: host1",
        "Stopping: 1",
        "Jobs: 2",
        "Unstoppable Jobs: 0",
        "Listeners: 2",
        "ActivePeers: 0",
        "ConnectedPeers: 0",
        "DroppedLogs: 0",
        "BusyPolling: 0",
        "FailedResolutions: 0",
        "TotalBytesOut: 0",
        "TotalSplicedBytesOut: 0",
        "BytesOutRate: 0",
        "DebugCommandsIssued: 0",
        "CumRecvLogs: 0",
        "Build info: 0.1.0",
        "Memmax_bytes: 0",
        "PoolAlloc_bytes: 0",
        "PoolUsed_bytes: 0",
        "Start_time_sec: 1700000000",
        "Tainted: 0",
        "TotalWarnings: 0",
        "MaxconnReached: 0",
        "BootTime_ms: 0",
        "Niced_tasks: 0",
        "CurrStreams: 7",
        "CumStreams: 1234",
        "BlockedTrafficWarnings: 0",
        "",
    };
    CHECK(lines_of(r) == expected);
    CHECK(r.substr(r.size() - 2) == "\n\n");

    w.pi.uptime_sec = 4;
    CHECK(info_value(run(w, "show info"), "Uptime") == "0d 0h00m04s");
    w.pi.uptime_sec = 2 * 86400 + 13 * 3600 + 7;
    CHECK(info_value(run(w, "show info"), "Uptime") == "2d 13h00m07s");
}

TEST_CASE("show info json and typed", "[cli][info]") {
    FakeWorker w;
    w.pi.index = 2;
    auto j = run(w, "show info json", CliLevel::User);
    CHECK(j.rfind("[{\"field\":{\"pos\":0,\"name\":\"Name\"},\"processNum\":2,\"tags\":{\"origin\":\"Product\","
                  "\"nature\":\"Output\",\"scope\":\"Service\"},\"value\":{\"type\":\"str\",\"value\":\"proxyd\"}},",
                  0) == 0);
    CHECK(j.find("{\"field\":{\"pos\":17,\"name\":\"CurrConns\"},\"processNum\":2,\"tags\":{\"origin\":\"Metric\","
                 "\"nature\":\"Gauge\",\"scope\":\"Process\"},\"value\":{\"type\":\"u32\",\"value\":0}}") !=
          std::string::npos);
    CHECK(j.find("\"pos\":78,\"name\":\"BlockedTrafficWarnings\"") != std::string::npos);
    CHECK(j.substr(j.size() - 2) == "]\n");
    CHECK(valid_json(j));
    // A node name needing escapes stays valid JSON.
    w.pi.node = "we\"ird\\node\x01";
    CHECK(valid_json(run(w, "show info json")));

    auto t = lines_of(run(w, "show info typed"));
    CHECK(t.at(0) == "0.Name.2:POS:str:proxyd");
    CHECK(t.at(6) == "6.Pid.2:SGP:u32:4242");
    CHECK(t.at(8) == "8.Uptime_sec.2:MDP:u32:3665");
}

TEST_CASE("show stat: header, rows in configuration order, HAProxy's columns", "[cli][stat]") {
    FakeWorker w;
    auto now = steady_sec();
    auto& fe = w.proxy("fe");
    fe.fe.open(now);
    fe.fe.open(now);
    fe.fe.bytes_in = 100;
    fe.fe.bytes_out = 2000;
    auto& be = w.proxy("be");
    be.be.open(now);
    be.be.lbtot = 2;
    be.servers[0].counters.open(now);
    be.servers[0].counters.lbtot = 2;
    be.servers[0].counters.conn_errors = 1;
    be.servers[0].cur_conns = 1;

    auto r = run(w, "show stat", CliLevel::Admin);
    auto ls = lines_of(r);
    CHECK(ls.at(0) == kStatHeader);
    CHECK(r.substr(r.size() - 2) == "\n\n");  // ends with an empty line
    CHECK(ls.back().empty());
    auto rows = csv_rows(r);
    std::vector<std::string> order;
    for (const auto& row : rows)
        order.push_back(row[0] + "/" + row[1]);
    CHECK(order == std::vector<std::string>{"app/FRONTEND", "app/a1", "app/BACKEND", "fe/FRONTEND", "be/s1",
                                            "be/s2", "be/s3", "be/BACKEND"});
    const size_t ncols = split(ls.at(0), ',').size();
    CHECK(ncols == 103);  // 101 columns, "-", and the empty field after the trailing comma
    for (const auto& row : rows) {
        CHECK(row.size() == ncols);
        CHECK(row[ncols - 2] == "-");
        CHECK(row[ncols - 1].empty());
    }

    // Frontend.
    CHECK(cell(r, "fe", "FRONTEND", "status") == "OPEN");
    CHECK(cell(r, "fe", "FRONTEND", "scur") == "2");
    CHECK(cell(r, "fe", "FRONTEND", "stot") == "2");
    CHECK(cell(r, "fe", "FRONTEND", "slim") == "500");
    CHECK(cell(r, "fe", "FRONTEND", "bin") == "100");
    CHECK(cell(r, "fe", "FRONTEND", "bout") == "2000");
    CHECK(cell(r, "fe", "FRONTEND", "type") == "0");
    CHECK(cell(r, "fe", "FRONTEND", "pid") == "1");
    CHECK(cell(r, "fe", "FRONTEND", "iid") == "2");
    CHECK(cell(r, "fe", "FRONTEND", "sid") == "0");
    CHECK(cell(r, "fe", "FRONTEND", "rate") == "2");
    CHECK(cell(r, "fe", "FRONTEND", "rate_max") == "2");
    CHECK(cell(r, "fe", "FRONTEND", "conn_tot") == "2");
    CHECK(cell(r, "fe", "FRONTEND", "mode") == "tcp");
    CHECK(cell(r, "fe", "FRONTEND", "qcur").empty());  // frontends have no queue
    CHECK(cell(r, "fe", "FRONTEND", "weight").empty());
    CHECK(cell(r, "fe", "FRONTEND", "hrsp_2xx").empty());  // HTTP columns stay empty in TCP mode
    CHECK(cell(r, "fe", "FRONTEND", "addr").empty());

    // Servers.
    CHECK(cell(r, "be", "s1", "status") == "UP");
    CHECK(cell(r, "be", "s1", "weight") == "10");
    CHECK(cell(r, "be", "s1", "uweight") == "10");
    CHECK(cell(r, "be", "s1", "act") == "1");
    CHECK(cell(r, "be", "s1", "bck") == "0");
    CHECK(cell(r, "be", "s1", "type") == "2");
    CHECK(cell(r, "be", "s1", "iid") == "3");
    CHECK(cell(r, "be", "s1", "sid") == "1");
    CHECK(cell(r, "be", "s1", "addr") == "127.0.0.1:9101");
    CHECK(cell(r, "be", "s1", "scur") == "1");
    CHECK(cell(r, "be", "s1", "stot") == "1");
    CHECK(cell(r, "be", "s1", "lbtot") == "2");
    CHECK(cell(r, "be", "s1", "econ") == "1");
    CHECK(cell(r, "be", "s1", "used_conn_cur") == "1");
    CHECK(cell(r, "be", "s1", "slim").empty());  // no maxconn
    CHECK(cell(r, "be", "s1", "lastchg") == "3665");
    CHECK(cell(r, "be", "s1", "check_status").empty());
    CHECK(cell(r, "be", "s1", "algo").empty());
    CHECK(cell(r, "be", "s2", "status") == "MAINT");
    CHECK(cell(r, "be", "s2", "sid") == "2");
    CHECK(cell(r, "be", "s3", "status") == "UP");
    CHECK(cell(r, "be", "s3", "act") == "0");
    CHECK(cell(r, "be", "s3", "bck") == "1");
    CHECK(cell(r, "be", "s3", "slim") == "5");
    CHECK(cell(r, "be", "s3", "addr") == "[::1]:9103");

    // Backends.
    CHECK(cell(r, "be", "BACKEND", "status") == "UP");
    CHECK(cell(r, "be", "BACKEND", "weight") == "10");
    CHECK(cell(r, "be", "BACKEND", "act") == "1");
    CHECK(cell(r, "be", "BACKEND", "bck") == "1");
    CHECK(cell(r, "be", "BACKEND", "type") == "1");
    CHECK(cell(r, "be", "BACKEND", "sid") == "0");
    CHECK(cell(r, "be", "BACKEND", "algo") == "roundrobin");
    CHECK(cell(r, "be", "BACKEND", "slim") == "50");  // fullconn: fe's maxconn / 10
    CHECK(cell(r, "be", "BACKEND", "stot") == "1");
    CHECK(cell(r, "be", "BACKEND", "lbtot") == "2");
    CHECK(cell(r, "be", "BACKEND", "agg_server_check_status") == "0");
    CHECK(cell(r, "app", "BACKEND", "slim") == "10");
    CHECK(cell(r, "app", "FRONTEND", "iid") == "1");
    CHECK(cell(r, "app", "a1", "iid") == "1");
}

TEST_CASE("show stat follows admin state, weights and pauses", "[cli][stat]") {
    FakeWorker w;
    REQUIRE(run(w, "set server be/s1 state drain") == "");
    auto r = run(w, "show stat");
    CHECK(cell(r, "be", "s1", "status") == "DRAIN");
    CHECK(cell(r, "be", "s1", "weight") == "10");
    // No usable active server: the first usable backup carries the traffic.
    CHECK(cell(r, "be", "BACKEND", "status") == "UP");
    CHECK(cell(r, "be", "BACKEND", "weight") == "1");
    CHECK(cell(r, "be", "BACKEND", "act") == "0");
    CHECK(cell(r, "be", "BACKEND", "bck") == "1");
    REQUIRE(run(w, "disable server be/s3") == "");
    r = run(w, "show stat");
    CHECK(cell(r, "be", "s3", "status") == "MAINT");
    CHECK(cell(r, "be", "BACKEND", "status") == "DOWN");
    CHECK(cell(r, "be", "BACKEND", "weight") == "0");
    REQUIRE(run(w, "set server be/s1 state ready") == "");
    REQUIRE(run(w, "set server be/s1 weight 0") == "");
    CHECK(cell(run(w, "show stat"), "be", "BACKEND", "status") == "DOWN");
    REQUIRE(run(w, "enable server be/s2") == "");
    r = run(w, "show stat");
    CHECK(cell(r, "be", "s2", "status") == "UP");
    CHECK(cell(r, "be", "BACKEND", "status") == "UP");
    CHECK(cell(r, "be", "BACKEND", "weight") == "1");

    w.proxy("fe").paused = true;
    CHECK(cell(run(w, "show stat"), "fe", "FRONTEND", "status") == "STOP");
    w.proxy("fe").paused = false;
    w.pi.stopping = true;
    CHECK(cell(run(w, "show stat"), "fe", "FRONTEND", "status") == "STOP");

    // Addresses and algorithm are legends, shown from level operator (HAProxy's CLI rule).
    r = run(w, "show stat", CliLevel::User);
    CHECK(cell(r, "be", "s1", "addr").empty());
    CHECK(cell(r, "be", "BACKEND", "algo").empty());
    r = run(w, "show stat", CliLevel::Operator);
    CHECK(cell(r, "be", "s1", "addr") == "127.0.0.1:9101");
}

TEST_CASE("show stat filters", "[cli][stat]") {
    FakeWorker w;
    auto names = [](const std::string& reply) {
        std::vector<std::string> out;
        for (const auto& row : csv_rows(reply))
            out.push_back(row[0] + "/" + row[1]);
        return out;
    };
    using V = std::vector<std::string>;
    CHECK(names(run(w, "show stat be 4 -1")) == V{"be/s1", "be/s2", "be/s3"});
    CHECK(names(run(w, "show stat 3 4 2")) == V{"be/s2"});
    CHECK(names(run(w, "show stat -1 1 -1")) == V{"app/FRONTEND", "fe/FRONTEND"});
    CHECK(names(run(w, "show stat app 3 -1")) == V{"app/FRONTEND", "app/BACKEND"});
    CHECK(run(w, "show stat nope 1 1") == "No such proxy.\n");
    CHECK(run(w, "show stat domain dns") == "Invalid statistics domain.\n");
    CHECK(names(run(w, "show stat domain proxy")).size() == 8);
    auto up = run(w, "show stat up");
    CHECK(names(up) == V{"app/FRONTEND", "app/a1", "app/BACKEND", "fe/FRONTEND", "be/s1", "be/s3", "be/BACKEND"});
    CHECK(cell(up, "be", "BACKEND", "status") == "UP (2/3)");
    CHECK(cell(run(w, "show stat no-maint"), "app", "BACKEND", "status") == "UP (1/1)");
}

TEST_CASE("show stat json and typed", "[cli][stat]") {
    FakeWorker w;
    auto j = run(w, "show stat json");
    CHECK(valid_json(j));
    CHECK(j.rfind("[[{\"objType\":\"Frontend\",\"proxyId\":1,\"id\":0,\"field\":{\"pos\":0,\"name\":\"pxname\"},"
                  "\"processNum\":1,\"tags\":{\"origin\":\"Key\",\"nature\":\"Name\",\"scope\":\"Service\"},"
                  "\"value\":{\"type\":\"str\",\"value\":\"app\"}},",
                  0) == 0);
    CHECK(j.find("{\"objType\":\"Server\",\"proxyId\":3,\"id\":3,\"field\":{\"pos\":1,\"name\":\"svname\"}") !=
          std::string::npos);
    CHECK(j.find("\"objType\":\"Backend\",\"proxyId\":3,\"id\":0,\"field\":{\"pos\":17,\"name\":\"status\"},"
                 "\"processNum\":1,\"tags\":{\"origin\":\"Status\",\"nature\":\"Gauge\",\"scope\":\"Process\"},"
                 "\"value\":{\"type\":\"str\",\"value\":\"UP\"}}") != std::string::npos);
    CHECK(j.find("\"name\":\"qcur\"},\"processNum\":1,\"tags\":{\"origin\":\"Metric\",\"nature\":\"Gauge\"") !=
          std::string::npos);
    CHECK(j.substr(j.size() - 3) == "]]\n");
    CHECK(j.find("\"name\":\"check_status\"") == std::string::npos);  // empty fields are left out

    auto t = lines_of(run(w, "show stat typed"));
    CHECK(t.at(0) == "F.1.0.0.pxname.1:KNS:str:app");
    bool found = false;
    for (const auto& l : t)
        found = found || l == "S.3.2.17.status.1:SGP:str:MAINT";
    CHECK(found);
}

TEST_CASE("show servers state", "[cli][state]") {
    FakeWorker w;
    auto r = run(w, "show servers state", CliLevel::User);
    auto ls = lines_of(r);
    REQUIRE(ls.size() == 7);
    CHECK(ls[0] == "1");
    CHECK(ls[1] == kServersStateHeader);
    CHECK(ls[2] == "1 app 1 a1 127.0.0.1 2 0 1 1 3665 1 0 2 0 0 0 0 - 9001 - 0 0 - - 0");
    CHECK(ls[3] == "3 be 1 s1 127.0.0.1 2 0 10 10 3665 1 0 2 0 0 0 0 - 9101 - 0 0 - - 0");
    CHECK(ls[4] == "3 be 2 s2 127.0.0.1 0 5 1 1 3665 1 0 0 8 0 0 0 - 9102 - 0 0 - - 0");
    CHECK(ls[5] == "3 be 3 s3 ::1 2 0 1 1 3665 1 0 2 0 0 0 0 - 9103 - 0 0 - - 0");
    CHECK(ls[6].empty());
    // Every data line has as many fields as the header.
    const size_t n = split(ls[1].substr(2), ' ').size();
    CHECK(n == 25);
    for (size_t i = 2; i < 6; ++i)
        CHECK(split(ls[i], ' ').size() == n);

    auto be = lines_of(run(w, "show servers state be"));
    CHECK(be.size() == 6);
    CHECK(be[2].rfind("3 be 1 s1 ", 0) == 0);
    CHECK(lines_of(run(w, "show servers state #1")).size() == 4);
    CHECK(run(w, "show servers state nope") == "Can't find backend.\n");
    CHECK(run(w, "show servers state fe") == "Can't find backend.\n");  // a frontend only

    // Admin state bits and the time of the last change follow runtime changes.
    w.pi.uptime_sec += 10;
    REQUIRE(run(w, "set server be/s1 state drain") == "");
    REQUIRE(run(w, "set server be/s1 weight 4") == "");
    REQUIRE(run(w, "enable server be/s2") == "");
    REQUIRE(run(w, "disable server be/s3") == "");
    w.pi.uptime_sec += 5;
    ls = lines_of(run(w, "show servers state be"));
    CHECK(ls[2] == "3 be 1 s1 127.0.0.1 2 8 4 10 5 1 0 2 0 0 0 0 - 9101 - 0 0 - - 0");
    CHECK(ls[3] == "3 be 2 s2 127.0.0.1 2 4 1 1 5 1 0 0 8 0 0 0 - 9102 - 0 0 - - 0");
    CHECK(ls[4] == "3 be 3 s3 ::1 0 1 1 1 5 1 0 2 0 0 0 0 - 9103 - 0 0 - - 0");
}

TEST_CASE("disable/enable/set server: changes and HAProxy's errors", "[cli][admin]") {
    FakeWorker w;
    auto& be = w.proxy("be");

    CHECK(run(w, "disable server be/s1") == "");
    CHECK(be.servers[0].admin == AdminState::Maint);
    CHECK(run(w, "enable server be/s1") == "");
    CHECK(be.servers[0].admin == AdminState::Ready);
    CHECK(run(w, "set server be/s1 state drain") == "");
    CHECK(be.servers[0].admin == AdminState::Drain);
    CHECK(run(w, "set server be/s1 state maint") == "");
    CHECK(be.servers[0].admin == AdminState::Maint);
    CHECK(run(w, "set server be/s1 state ready") == "");
    CHECK(be.servers[0].admin == AdminState::Ready);
    CHECK(run(w, "set server #3/#2 state ready") == "");  // numeric ids
    CHECK(be.servers[1].admin == AdminState::Ready);
    CHECK(run(w, "enable server app/a1") == "");  // a listen section is a backend too
    CHECK(w.changes == std::vector<std::string>{"be/s1", "be/s1", "be/s1", "be/s1", "be/s1", "be/s2", "app/a1"});

    for (const char* c : {"disable server", "disable server be", "disable server be/", "disable server /s1",
                          "enable server", "set server", "set server be", "set weight be 2", "get weight be"}) {
        INFO(c);
        CHECK(run(w, c) == "Require 'backend/server'.\n");
    }
    CHECK(run(w, "disable server nope/s1") == "No such backend.\n");
    CHECK(run(w, "disable server fe/s1") == "No such backend.\n");
    CHECK(run(w, "disable server #9/s1") == "No such backend.\n");
    CHECK(run(w, "disable server be/nope") == "No such server.\n");
    CHECK(run(w, "set server be/#4 state ready") == "No such server.\n");
    CHECK(run(w, "set server be/s1 state") == "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n");
    CHECK(run(w, "set server be/s1 state up") == "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n");
    CHECK(run(w, "set server be/s1") == "usage: set server <backend>/<server> state | weight\n");
    CHECK(run(w, "set server be/s1 addr 1.2.3.4") == "usage: set server <backend>/<server> state | weight\n");
    CHECK(be.servers[0].admin == AdminState::Ready);
}

TEST_CASE("set server weight: absolute, relative, errors", "[cli][admin]") {
    FakeWorker w;
    auto& s1 = w.proxy("be").servers[0];  // configured weight 10
    CHECK(run(w, "set server be/s1 weight 5") == "");
    CHECK(s1.weight == 5);
    CHECK(run(w, "get weight be/s1") == "5 (initial 10)\n");
    CHECK(run(w, "set server be/s1 weight 50%") == "");
    CHECK(s1.weight == 5);
    CHECK(run(w, "set server be/s1 weight 1000%") == "");
    CHECK(s1.weight == 100);
    CHECK(run(w, "set server be/s1 weight 999999999999%") == "");
    CHECK(s1.weight == 256);
    CHECK(run(w, "set weight be/s1 256") == "");
    CHECK(s1.weight == 256);
    CHECK(run(w, "set server be/s1 weight 0") == "");
    CHECK(s1.weight == 0);
    CHECK(run(w, "set server be/s1 weight +7") == "");
    CHECK(s1.weight == 7);

    CHECK(run(w, "set server be/s1 weight") == "Require <weight> or <weight%>.\n");
    CHECK(run(w, "set server be/s1 weight 257") == "Absolute weight can only be between 0 and 256 inclusive.\n");
    CHECK(run(w, "set server be/s1 weight -1") == "Absolute weight can only be between 0 and 256 inclusive.\n");
    CHECK(run(w, "set server be/s1 weight 99999999999999999999") ==
          "Absolute weight can only be between 0 and 256 inclusive.\n");
    CHECK(run(w, "set server be/s1 weight -5%") == "Relative weight must be positive.\n");
    CHECK(run(w, "set server be/s1 weight abc") == "Empty weight string empty or preceded by garbage.\n");
    CHECK(run(w, "set server be/s1 weight %") == "Empty weight string empty or preceded by garbage.\n");
    CHECK(run(w, "set server be/s1 weight 5x") == "Trailing garbage in weight string.\n");
    CHECK(run(w, "set server be/s1 weight 5%%") == "Trailing garbage in weight string.\n");
    CHECK(s1.weight == 7);
    CHECK(w.changes.size() == 7);
}

TEST_CASE("show sess", "[cli][sess]") {
    FakeWorker w;
    CHECK(run(w, "show sess") == "\n");
    w.sessions_.push_back(SessionView{0x1a2b, "fe", "be", "s1", "192.0.2.7:51000", "data", 65, 10, 20});
    w.sessions_.push_back(SessionView{0x1a2c, "app", "", "", "[2001:db8::1]:4000", "connect", 0, 0, 0});
    w.sessions_.push_back(SessionView{7, "fe", "be", "s3", "unix@/run/x.sock", "queue", 90061, 0, 0});
    auto r = run(w, "show sess", CliLevel::Operator);
    auto ls = lines_of(r);
    REQUIRE(ls.size() == 4);
    CHECK(ls[0] == "0x1a2b: proto=tcpv4 src=192.0.2.7:51000 fe=fe be=be srv=s1 ts=00 epoch=0 age=1m5s calls=0 "
                   "rate=0 cpu=0 lat=0 phase=data bin=10 bout=20");
    CHECK(ls[1] == "0x1a2c: proto=tcpv6 src=[2001:db8::1]:4000 fe=app be=<NONE> srv=<none> ts=00 epoch=0 age=0s "
                   "calls=0 rate=0 cpu=0 lat=0 phase=connect bin=0 bout=0");
    CHECK(ls[2].rfind("0x7: proto=unix_stream src=unix@/run/x.sock fe=fe be=be srv=s3 ts=00 epoch=0 age=1d1h ", 0) ==
          0);
    CHECK(ls[3].empty());
    CHECK(lines_of(run(w, "show sess 0x1a2c")).at(0).rfind("0x1a2c: ", 0) == 0);
    CHECK(lines_of(run(w, "show sess 7")).at(0).rfind("0x7: ", 0) == 0);
    CHECK(run(w, "show sess 0x99") == "Session not found.\n");
    CHECK(lines_of(run(w, "show sess all")).size() == 4);
}

TEST_CASE("merge_show_info: one process made of several workers", "[cli][merge]") {
    FakeWorker a, b;
    a.pi.index = 1;
    a.pi.pid = 100;
    a.pi.worker_count = 2;
    a.pi.uptime_sec = 50;
    a.pi.start_time_sec = 1'700'000'100;
    a.pi.cur_conns = 3;
    a.pi.cum_conns = 10;
    a.pi.max_conn_rate = 7;
    a.pi.idle_pct = 90;
    a.pi.total_bytes_out = 1000;
    b.pi.index = 2;
    b.pi.pid = 101;
    b.pi.worker_count = 2;
    b.pi.uptime_sec = 60;  // the oldest
    b.pi.start_time_sec = 1'700'000'090;
    b.pi.cur_conns = 4;
    b.pi.cum_conns = 20;
    b.pi.max_conn_rate = 5;
    b.pi.idle_pct = 80;
    b.pi.total_bytes_out = 500;
    auto ra = run(a, "show info"), rb = run(b, "show info");
    auto m = merge_show_info({ra, rb});
    // Same fields, same order.
    auto la = lines_of(ra), lm = lines_of(m);
    REQUIRE(la.size() == lm.size());
    for (size_t i = 0; i < la.size(); ++i)
        CHECK(la[i].substr(0, la[i].find(':')) == lm[i].substr(0, lm[i].find(':')));
    CHECK(m.substr(m.size() - 2) == "\n\n");
    CHECK(info_value(m, "Nbproc") == "2");
    CHECK(info_value(m, "Process_num") == "1");
    CHECK(info_value(m, "Pid") == "100");
    CHECK(info_value(m, "CurrConns") == "7");
    CHECK(info_value(m, "CumConns") == "30");
    CHECK(info_value(m, "CurrStreams") == "7");
    CHECK(info_value(m, "Maxconn") == "2000");
    CHECK(info_value(m, "Listeners") == "4");
    CHECK(info_value(m, "Jobs") == "4");
    CHECK(info_value(m, "TotalBytesOut") == "1500");
    CHECK(info_value(m, "MaxConnRate") == "7");
    CHECK(info_value(m, "Idle_pct") == "80");
    CHECK(info_value(m, "Uptime_sec") == "60");
    CHECK(info_value(m, "Uptime") == "0d 0h01m00s");
    CHECK(info_value(m, "Start_time_sec") == "1700000090");
    CHECK(info_value(m, "Ulimit-n") == "2048");  // per-process limit: the first's
    CHECK(info_value(m, "node") == "host1");
    CHECK(info_value(m, "Unstoppable Jobs") == "0");

    CHECK(merge_show_info({}) == "");
    FakeWorker single;
    auto rs = run(single, "show info");
    CHECK(merge_show_info({rs}) == rs);  // Nbproc: the number of replies, here 1 as before
    CHECK(merge_show_info({"Permission denied\n", rb}) == "Permission denied\n");

    // json and typed: one document holding every worker's fields (each names its process).
    auto ja = run(a, "show info json"), jb = run(b, "show info json");
    auto jm = merge_show_info({ja, jb, "(no reply from the worker within 10 s)\n"});
    CHECK(valid_json(jm));
    CHECK(jm.rfind(ja.substr(0, ja.size() - 2) + ",{\"field\":{\"pos\":0,\"name\":\"Name\"},\"processNum\":2,", 0) == 0);
    CHECK(jm.substr(jm.size() - 2) == "]\n");
    CHECK(merge_show_info({"[]\n", ja}) == ja);
    auto ta = run(a, "show info typed"), tb = run(b, "show info typed");
    auto tm = merge_show_info({ta, tb});
    CHECK(tm == ta.substr(0, ta.size() - 1) + tb);
    CHECK(tm.find("0.Name.2:POS:str:proxyd\n") != std::string::npos);
}

TEST_CASE("merge_show_stat: counters summed, maxima kept, text from the first", "[cli][merge]") {
    FakeWorker a, b;
    a.pi.index = 1;
    b.pi.index = 2;
    auto now = steady_sec();
    for (int i = 0; i < 3; ++i)
        a.proxy("fe").fe.open(now);
    a.proxy("fe").fe.bytes_in = 10;
    for (int i = 0; i < 5; ++i)
        b.proxy("fe").fe.open(now);
    b.proxy("fe").fe.close();
    b.proxy("fe").fe.bytes_in = 32;
    a.proxy("be").servers[0].counters.lbtot = 4;
    b.proxy("be").servers[0].counters.lbtot = 6;
    a.proxy("be").servers[0].counters.qmax = 9;
    b.proxy("be").servers[0].counters.qmax = 2;
    b.proxy("be").servers[0].counters.last_change = b.pi.start_time_sec + 3000;  // changed 665 s ago
    REQUIRE(run(b, "set server be/s3 state drain") == "");                      // b differs: first wins

    auto ra = run(a, "show stat"), rb = run(b, "show stat");
    auto m = merge_show_stat({ra, rb});
    CHECK(lines_of(m).at(0) == kStatHeader);
    CHECK(m.substr(m.size() - 2) == "\n\n");
    auto rows = csv_rows(m);
    REQUIRE(rows.size() == csv_rows(ra).size());
    for (size_t i = 0; i < rows.size(); ++i) {
        CHECK(rows[i].size() == split(kStatHeader, ',').size());
        CHECK(rows[i][0] == csv_rows(ra)[i][0]);
        CHECK(rows[i][1] == csv_rows(ra)[i][1]);
    }
    CHECK(cell(m, "fe", "FRONTEND", "scur") == "7");
    CHECK(cell(m, "fe", "FRONTEND", "smax") == "5");
    CHECK(cell(m, "fe", "FRONTEND", "stot") == "8");
    CHECK(cell(m, "fe", "FRONTEND", "bin") == "42");
    CHECK(cell(m, "fe", "FRONTEND", "rate") == "8");
    CHECK(cell(m, "fe", "FRONTEND", "rate_max") == "5");
    CHECK(cell(m, "fe", "FRONTEND", "slim") == "1000");
    CHECK(cell(m, "fe", "FRONTEND", "status") == "OPEN");
    CHECK(cell(m, "fe", "FRONTEND", "pid") == "1");
    CHECK(cell(m, "fe", "FRONTEND", "iid") == "2");
    CHECK(cell(m, "fe", "FRONTEND", "type") == "0");
    CHECK(cell(m, "be", "s1", "lbtot") == "10");
    CHECK(cell(m, "be", "s1", "qmax") == "9");
    CHECK(cell(m, "be", "s1", "lastchg") == "665");
    CHECK(cell(m, "be", "s1", "weight") == "10");
    CHECK(cell(m, "be", "s1", "addr") == "127.0.0.1:9101");
    CHECK(cell(m, "be", "s3", "status") == "UP");
    CHECK(cell(m, "be", "s1", "check_status").empty());
    CHECK(cell(m, "be", "BACKEND", "algo") == "roundrobin");

    CHECK(merge_show_stat({}) == "");
    CHECK(merge_show_stat({ra}) == ra);
    CHECK(merge_show_stat({"Permission denied\n", ra}) == "Permission denied\n");
    auto jm = merge_show_stat({run(a, "show stat json"), run(b, "show stat json")});
    CHECK(valid_json(jm));
    CHECK(jm.rfind("[[{\"objType\":\"Frontend\",\"proxyId\":1,\"id\":0,\"field\":{\"pos\":0,\"name\":\"pxname\"},"
                   "\"processNum\":1,", 0) == 0);
    CHECK(jm.find("}],[{\"objType\":\"Frontend\",\"proxyId\":1,\"id\":0,\"field\":{\"pos\":0,\"name\":\"pxname\"},"
                  "\"processNum\":2,") != std::string::npos);
    auto tm = merge_show_stat({run(a, "show stat typed"), run(b, "show stat typed")});
    CHECK(tm.rfind("F.1.0.0.pxname.1:KNS:str:app\n", 0) == 0);
    CHECK(tm.find("\nF.1.0.0.pxname.2:KNS:str:app\n") != std::string::npos);
    CHECK(tm.substr(tm.size() - 2) == "\n\n");

    // Hand-written replies: quoted text, rows missing from a worker, negative ages.
    std::string x = "# pxname,svname,stot,lastsess,status,\n"
                    "p,\"a,b\",1,-1,\"x\"\"y\",\n"
                    "p,c,2,5,UP,\n\n";
    std::string y = "# pxname,svname,stot,lastsess,status,\n"
                    "p,\"a,b\",10,3,DOWN,\n\n";
    CHECK(merge_show_stat({x, y}) == "# pxname,svname,stot,lastsess,status,\n"
                                     "p,\"a,b\",11,3,\"x\"\"y\",\n"
                                     "p,c,2,5,UP,\n\n");
    std::string z = "# pxname,svname,stot,lastsess,status,\np,\"a,b\",1,-1,UP,\n";
    CHECK(merge_show_stat({z, z}) == "# pxname,svname,stot,lastsess,status,\np,\"a,b\",2,-1,UP,\n");
}
