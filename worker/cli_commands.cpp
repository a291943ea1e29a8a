#include "worker/cli_commands.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <optional>
#include <span>

#include "config.h"

// Output conventions (HAProxy 2.6 `doc/management.txt` and `src/stats.c`, `src/cli.c`):
// - Dumps (show info/stat/servers state/sess) end with the newline HAProxy's CLI prints
//   after every command in non-interactive mode (an empty line after the text forms), so a
//   reply relayed verbatim looks like HAProxy's. Messages (errors, `get weight`, help) are
//   returned bare, and successful state changes return "" (HAProxy prints nothing but that
//   newline): the master's relay adds the final empty line where it is missing, and records
//   state changes only when every worker answered "".
// - Level-restricted commands answer "Permission denied\n", checked before the arguments,
//   as HAProxy's parsers do.
// - Unlike HAProxy, `help` and the unknown-command list only show the commands allowed at
//   the session's level (HAProxy lists them all and refuses later).

namespace proxyd::worker {
namespace {

// ---------------------------------------------------------------------------------------
// Values with HAProxy's tags (its `struct field`): origin, nature and scope packed as
// FO_*, FN_*, FS_*; zero means Metric, Gauge, Process as in HAProxy.
constexpr unsigned kOriginMetric = 0, kOriginStatus = 1, kOriginKey = 2, kOriginConfig = 3,
                   kOriginProduct = 4;
constexpr unsigned kNatureGauge = 0 << 4, kNatureLimit = 1 << 4, kNatureMax = 3 << 4,
                   kNatureRate = 4 << 4, kNatureCounter = 5 << 4, kNatureDuration = 6 << 4,
                   kNatureAge = 7 << 4, kNatureName = 9 << 4, kNatureOutput = 10 << 4,
                   kNatureAvg = 11 << 4;
constexpr unsigned kScopeProcess = 0 << 8, kScopeService = 1 << 8;
static_assert(kOriginMetric == 0 && kNatureGauge == 0 && kScopeProcess == 0, "zero tags: a process gauge");

struct Field {
    enum class Type : uint8_t { Empty, S32, U32, U64, Str };
    Type type = Type::Empty;
    unsigned tags = 0;
    uint64_t u = 0;
    int64_t s = 0;
    std::string str;

    bool empty() const { return type == Type::Empty; }
};

Field mk_u32(unsigned tags, uint64_t v) { return Field{Field::Type::U32, tags, v, 0, {}}; }
Field mk_u64(unsigned tags, uint64_t v) { return Field{Field::Type::U64, tags, v, 0, {}}; }
Field mk_str(unsigned tags, std::string v) { return Field{Field::Type::Str, tags, 0, 0, std::move(v)}; }

std::string field_text(const Field& f) {
    switch (f.type) {
    case Field::Type::Empty: return {};
    case Field::Type::S32: return std::to_string(f.s);
    case Field::Type::U32:
    case Field::Type::U64: return std::to_string(f.u);
    case Field::Type::Str: return f.str;
    }
    return {};
}

const char* type_name(const Field& f) {
    switch (f.type) {
    case Field::Type::S32: return "s32";
    case Field::Type::U32: return "u32";
    case Field::Type::U64: return "u64";
    case Field::Type::Str: return "str";
    case Field::Type::Empty: break;
    }
    return "";
}

unsigned origin_of(unsigned t) { return t & 0xf; }
unsigned nature_of(unsigned t) { return (t >> 4) & 0xf; }
unsigned scope_of(unsigned t) { return (t >> 8) & 0xf; }

// The 3 tag characters of the "typed" formats (2.6: origin, nature, scope).
std::string tag_chars(unsigned t) {
    static constexpr char origins[] = "MSKCP";
    static constexpr char natures[] = "GLmMRCDATNOa";
    static constexpr char scopes[] = "PSsC";
    std::string r;
    r += origin_of(t) < 5 ? origins[origin_of(t)] : '?';
    r += nature_of(t) < 12 ? natures[nature_of(t)] : '?';
    r += scope_of(t) < 4 ? scopes[scope_of(t)] : '?';
    return r;
}

std::string json_escape(std::string_view s) {
    std::string r;
    r.reserve(s.size());
    for (char c : s) {
        auto uc = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            r += '\\';
            r += c;
        } else if (uc < 0x20 || uc == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", uc);
            r += buf;
        } else {
            r += c;  // UTF-8 passes through; names come from the configuration
        }
    }
    return r;
}

std::string json_tags(unsigned t) {
    static constexpr const char* origins[] = {"Metric", "Status", "Key", "Config", "Product"};
    static constexpr const char* natures[] = {"Gauge", "Limit", "Min",  "Max",  "Rate",   "Counter",
                                              "Duration", "Age", "Time", "Name", "Output", "Avg"};
    static constexpr const char* scopes[] = {"Process", "Service", "System", "Cluster"};
    std::string r = "\"tags\":{\"origin\":\"";
    r += origin_of(t) < 5 ? origins[origin_of(t)] : "Unknown";
    r += "\",\"nature\":\"";
    r += nature_of(t) < 12 ? natures[nature_of(t)] : "Unknown";
    r += "\",\"scope\":\"";
    r += scope_of(t) < 4 ? scopes[scope_of(t)] : "Unknown";
    r += "\"}";
    return r;
}

std::string json_value(const Field& f) {
    std::string r = ",\"value\":{\"type\":\"";
    r += type_name(f);
    r += "\",\"value\":";
    if (f.type == Field::Type::Str)
        r += "\"" + json_escape(f.str) + "\"";
    else
        r += field_text(f);
    r += "}";
    return r;
}

// CSV text as HAProxy's csv_enc_append(): quoted only when ambiguous, quotes doubled.
std::string csv_enc(std::string_view s) {
    if (s.find_first_of("\n\r,\"") == std::string_view::npos)
        return std::string(s);
    std::string r = "\"";
    for (char c : s) {
        r += c;
        if (c == '"')
            r += '"';
    }
    r += '"';
    return r;
}

// Splits one CSV line (quotes as written by csv_enc). Keeps the empty last field that
// HAProxy's trailing comma produces, so joining with ',' gives the line back.
std::vector<std::string> csv_split(std::string_view line) {
    std::vector<std::string> out(1);
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quoted) {
            if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
                out.back() += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                out.back() += c;
            }
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            out.emplace_back();
        } else {
            out.back() += c;
        }
    }
    return out;
}

std::vector<std::string_view> split_lines(std::string_view s) {
    std::vector<std::string_view> lines;
    size_t pos = 0;
    while (pos < s.size()) {
        size_t nl = s.find('\n', pos);
        if (nl == std::string_view::npos) {
            lines.push_back(s.substr(pos));
            break;
        }
        lines.push_back(s.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return lines;
}

bool ends_with_blank_line(std::string_view s) { return s.size() >= 2 && s.substr(s.size() - 2) == "\n\n"; }

std::optional<uint64_t> to_u64(std::string_view s) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size())
        return std::nullopt;
    return v;
}

std::optional<int64_t> to_i64(std::string_view s) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size())
        return std::nullopt;
    return v;
}

int64_t steady_now_sec() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Seconds since `last_change` (unix time; 0 = never changed, i.e. since process start).
uint64_t age_since(int64_t last_change, const ProcessInfo& pi) {
    int64_t now = pi.start_time_sec + pi.uptime_sec;
    int64_t since = last_change > 0 ? last_change : pi.start_time_sec;
    return now > since ? static_cast<uint64_t>(now - since) : 0;
}

// ---------------------------------------------------------------------------------------
// show info

struct InfoField {
    int pos;  // HAProxy's fixed position (holes where it has fields proxyd does not)
    const char* name;
    Field value;
};

std::vector<InfoField> info_fields(const ProcessInfo& pi) {
    const uint64_t up = pi.uptime_sec > 0 ? static_cast<uint64_t>(pi.uptime_sec) : 0;
    char uptime[64];
    std::snprintf(uptime, sizeof uptime, "%" PRIu64 "d %" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s",
                  up / 86400, (up % 86400) / 3600, (up % 3600) / 60, up % 60);
    const unsigned product = kOriginProduct | kNatureOutput | kScopeService;
    const unsigned limit = kOriginConfig | kNatureLimit;
    auto u = [](int v) { return v > 0 ? static_cast<uint64_t>(v) : 0; };
    // Tasks: proxyd has no task scheduler; each job (connection or listener) is the unit of
    // work HAProxy would count as a task. Streams: one per TCP connection.
    return {
        {0, "Name", mk_str(product, "proxyd")},
        {1, "Version", mk_str(product, PROXYD_VERSION)},
        {2, "Release_date", mk_str(product, PROXYD_RELEASE_DATE)},
        {3, "Nbthread", mk_u32(kOriginConfig | kScopeService, 1)},
        {4, "Nbproc", mk_u32(kOriginConfig | kScopeService, pi.worker_count)},
        {5, "Process_num", mk_u32(kOriginKey, pi.index)},
        {6, "Pid", mk_u32(kOriginStatus, u(pi.pid))},
        {7, "Uptime", mk_str(kNatureDuration, uptime)},
        {8, "Uptime_sec", mk_u32(kNatureDuration, up)},
        {9, "Memmax_MB", mk_u32(limit, pi.memmax_mb)},
        {10, "PoolAlloc_MB", mk_u32(0, 0)},
        {11, "PoolUsed_MB", mk_u32(0, 0)},
        {12, "PoolFailed", mk_u32(kNatureCounter, 0)},
        {13, "Ulimit-n", mk_u32(limit, u(pi.ulimit_n))},
        {14, "Maxsock", mk_u32(limit, u(pi.maxsock))},
        {15, "Maxconn", mk_u32(limit, u(pi.maxconn))},
        {16, "Hard_maxconn", mk_u32(limit, u(pi.hard_maxconn))},
        {17, "CurrConns", mk_u32(0, pi.cur_conns)},
        {18, "CumConns", mk_u32(kNatureCounter, pi.cum_conns)},
        {19, "CumReq", mk_u32(kNatureCounter, pi.cum_req)},
        {23, "Maxpipes", mk_u32(limit, 0)},
        {24, "PipesUsed", mk_u32(0, 0)},
        {25, "PipesFree", mk_u32(0, 0)},
        {26, "ConnRate", mk_u32(kNatureRate, pi.conn_rate)},
        {27, "ConnRateLimit", mk_u32(limit, 0)},
        {28, "MaxConnRate", mk_u32(kNatureMax, pi.max_conn_rate)},
        {29, "SessRate", mk_u32(kNatureRate, pi.sess_rate)},
        {30, "SessRateLimit", mk_u32(limit, 0)},
        {31, "MaxSessRate", mk_u32(kNatureRate, pi.max_sess_rate)},  // sic: HAProxy's tag
        {47, "Tasks", mk_u32(0, pi.jobs)},
        {48, "Run_queue", mk_u32(0, u(pi.run_queue))},
        {49, "Idle_pct", mk_u32(kNatureAvg, u(pi.idle_pct))},
        {50, "node", mk_str(kOriginConfig | kNatureOutput | kScopeService, pi.node)},
        {52, "Stopping", mk_u32(0, pi.stopping ? 1 : 0)},
        {53, "Jobs", mk_u32(0, pi.jobs)},
        {54, "Unstoppable Jobs", mk_u32(0, 0)},
        {55, "Listeners", mk_u32(0, pi.listeners)},
        {56, "ActivePeers", mk_u32(0, 0)},
        {57, "ConnectedPeers", mk_u32(0, 0)},
        {58, "DroppedLogs", mk_u32(kNatureCounter, pi.dropped_logs)},
        {59, "BusyPolling", mk_u32(0, 0)},
        {60, "FailedResolutions", mk_u32(0, 0)},
        {61, "TotalBytesOut", mk_u64(0, pi.total_bytes_out)},
        {62, "TotalSplicedBytesOut", mk_u64(0, 0)},
        {63, "BytesOutRate", mk_u64(kNatureRate, 0)},
        {64, "DebugCommandsIssued", mk_u32(0, 0)},
        {65, "CumRecvLogs", mk_u32(kNatureCounter, 0)},
        {66, "Build info", mk_str(product, PROXYD_VERSION)},
        {67, "Memmax_bytes", mk_u64(limit, pi.memmax_mb * 1048576u)},
        {68, "PoolAlloc_bytes", mk_u64(0, 0)},
        {69, "PoolUsed_bytes", mk_u64(0, 0)},
        {70, "Start_time_sec", mk_u32(kNatureDuration, pi.start_time_sec > 0 ? static_cast<uint64_t>(pi.start_time_sec) : 0)},
        {71, "Tainted", mk_str(kOriginStatus, "0")},
        {72, "TotalWarnings", mk_u32(kNatureCounter, 0)},
        {73, "MaxconnReached", mk_u32(kNatureCounter, 0)},
        {74, "BootTime_ms", mk_u32(kNatureDuration, 0)},
        {75, "Niced_tasks", mk_u32(0, 0)},
        {76, "CurrStreams", mk_u64(0, pi.cur_conns)},
        {77, "CumStreams", mk_u64(0, pi.cum_conns)},
        {78, "BlockedTrafficWarnings", mk_u32(0, 0)},
    };
}

enum class Format { Text, Json, Typed };

Format parse_format(std::span<const std::string> args, size_t first) {
    Format f = Format::Text;
    for (size_t i = first; i < args.size(); ++i) {
        if (args[i] == "json")
            f = Format::Json;
        else if (args[i] == "typed")
            f = Format::Typed;
        // "desc", "float" and unknown words are accepted and ignored, as HAProxy ignores
        // unknown words (proxyd has no per-field descriptions nor float values).
    }
    return f;
}

std::string show_info(const ProcessInfo& pi, Format fmt) {
    auto fields = info_fields(pi);
    std::string out;
    if (fmt == Format::Json) {
        out += "[";
        bool first = true;
        for (const auto& f : fields) {
            if (!first)
                out += ",";
            first = false;
            out += "{\"field\":{\"pos\":" + std::to_string(f.pos) + ",\"name\":\"" + json_escape(f.name) +
                   "\"},\"processNum\":" + std::to_string(pi.index) + "," + json_tags(f.value.tags) +
                   json_value(f.value) + "}";
        }
        return out + "]\n";
    }
    for (const auto& f : fields) {
        if (fmt == Format::Typed)
            out += std::to_string(f.pos) + "." + f.name + "." + std::to_string(pi.index) + ":" +
                   tag_chars(f.value.tags) + ":" + type_name(f.value) + ":" + field_text(f.value) + "\n";
        else
            out += std::string(f.name) + ": " + field_text(f.value) + "\n";
    }
    return out + "\n";
}

// ---------------------------------------------------------------------------------------
// show stat: HAProxy 2.6's static proxy columns, in order, then its "-" delimiter.

namespace col {
enum Col : int {
    PxName, SvName, QCur, QMax, SCur, SMax, SLim, STot, BIn, BOut, DReq, DResp, EReq, ECon, EResp,
    WRetr, WRedis, Status, Weight, Act, Bck, ChkFail, ChkDown, LastChg, Downtime, QLimit, Pid, Iid,
    Sid, Throttle, LbTot, Tracked, Type, Rate, RateLim, RateMax, CheckStatus, CheckCode,
    CheckDuration, Hrsp1xx, Hrsp2xx, Hrsp3xx, Hrsp4xx, Hrsp5xx, HrspOther, HanaFail, ReqRate,
    ReqRateMax, ReqTot, CliAbrt, SrvAbrt, CompIn, CompOut, CompByp, CompRsp, LastSess, LastChk,
    LastAgt, QTime, CTime, RTime, TTime, AgentStatus, AgentCode, AgentDuration, CheckDesc,
    AgentDesc, CheckRise, CheckFall, CheckHealth, AgentRise, AgentFall, AgentHealth, Addr, Cookie,
    Mode, Algo, ConnRate, ConnRateMax, ConnTot, Intercepted, DCon, DSes, WRew, Connect, Reuse,
    CacheLookups, CacheHits, SrvICur, SrvILim, QTimeMax, CTimeMax, RTimeMax, TTimeMax, EInt,
    IdleConnCur, SafeConnCur, UsedConnCur, NeedConnEst, UWeight, AggSrvCheckStatus, Count
};
}  // namespace col

// How `@*` merges a column of several workers (see merge_show_stat).
enum class Merge { First, Sum, Max, Min };

struct StatCol {
    const char* name;
    Merge merge;
};

constexpr StatCol kStatCols[] = {
    {"pxname", Merge::First}, {"svname", Merge::First}, {"qcur", Merge::Sum}, {"qmax", Merge::Max},
    {"scur", Merge::Sum}, {"smax", Merge::Max}, {"slim", Merge::Sum}, {"stot", Merge::Sum},
    {"bin", Merge::Sum}, {"bout", Merge::Sum}, {"dreq", Merge::Sum}, {"dresp", Merge::Sum},
    {"ereq", Merge::Sum}, {"econ", Merge::Sum}, {"eresp", Merge::Sum}, {"wretr", Merge::Sum},
    {"wredis", Merge::Sum}, {"status", Merge::First}, {"weight", Merge::First}, {"act", Merge::First},
    {"bck", Merge::First}, {"chkfail", Merge::Sum}, {"chkdown", Merge::Sum}, {"lastchg", Merge::Min},
    {"downtime", Merge::Max}, {"qlimit", Merge::First}, {"pid", Merge::First}, {"iid", Merge::First},
    {"sid", Merge::First}, {"throttle", Merge::First}, {"lbtot", Merge::Sum}, {"tracked", Merge::First},
    {"type", Merge::First}, {"rate", Merge::Sum}, {"rate_lim", Merge::First}, {"rate_max", Merge::Max},
    {"check_status", Merge::First}, {"check_code", Merge::First}, {"check_duration", Merge::First},
    {"hrsp_1xx", Merge::Sum}, {"hrsp_2xx", Merge::Sum}, {"hrsp_3xx", Merge::Sum},
    {"hrsp_4xx", Merge::Sum}, {"hrsp_5xx", Merge::Sum}, {"hrsp_other", Merge::Sum},
    {"hanafail", Merge::Sum}, {"req_rate", Merge::Sum}, {"req_rate_max", Merge::Max},
    {"req_tot", Merge::Sum}, {"cli_abrt", Merge::Sum}, {"srv_abrt", Merge::Sum},
    {"comp_in", Merge::Sum}, {"comp_out", Merge::Sum}, {"comp_byp", Merge::Sum},
    {"comp_rsp", Merge::Sum}, {"lastsess", Merge::Min}, {"last_chk", Merge::First},
    {"last_agt", Merge::First}, {"qtime", Merge::First}, {"ctime", Merge::First},
    {"rtime", Merge::First}, {"ttime", Merge::First}, {"agent_status", Merge::First},
    {"agent_code", Merge::First}, {"agent_duration", Merge::First}, {"check_desc", Merge::First},
    {"agent_desc", Merge::First}, {"check_rise", Merge::First}, {"check_fall", Merge::First},
    {"check_health", Merge::First}, {"agent_rise", Merge::First}, {"agent_fall", Merge::First},
    {"agent_health", Merge::First}, {"addr", Merge::First}, {"cookie", Merge::First},
    {"mode", Merge::First}, {"algo", Merge::First}, {"conn_rate", Merge::Sum},
    {"conn_rate_max", Merge::Max}, {"conn_tot", Merge::Sum}, {"intercepted", Merge::Sum},
    {"dcon", Merge::Sum}, {"dses", Merge::Sum}, {"wrew", Merge::Sum}, {"connect", Merge::Sum},
    {"reuse", Merge::Sum}, {"cache_lookups", Merge::Sum}, {"cache_hits", Merge::Sum},
    {"srv_icur", Merge::Sum}, {"src_ilim", Merge::First}, {"qtime_max", Merge::Max},
    {"ctime_max", Merge::Max}, {"rtime_max", Merge::Max}, {"ttime_max", Merge::Max},
    {"eint", Merge::Sum}, {"idle_conn_cur", Merge::Sum}, {"safe_conn_cur", Merge::Sum},
    {"used_conn_cur", Merge::Sum}, {"need_conn_est", Merge::Sum}, {"uweight", Merge::First},
    {"agg_server_check_status", Merge::First},
};
static_assert(std::size(kStatCols) == col::Count, "one name per column");

using Row = std::array<Field, col::Count>;

// HAProxy's STATS_TYPE_*.
constexpr unsigned kTypeFe = 0, kTypeBe = 1, kTypeSv = 2;

std::string stat_csv_header() {
    std::string h = "# ";
    for (const auto& c : kStatCols) {
        h += c.name;
        h += ",";
    }
    return h + "-,\n";
}

std::string stat_csv_row(const Row& r) {
    std::string s;
    for (const auto& f : r) {
        s += csv_enc(field_text(f));
        s += ",";
    }
    return s + "-,\n";
}

std::string stat_typed_row(const Row& r) {
    const unsigned type = static_cast<unsigned>(r[col::Type].u);
    const char kind = type == kTypeFe ? 'F' : type == kTypeBe ? 'B' : type == kTypeSv ? 'S' : '?';
    std::string s;
    for (int i = 0; i < col::Count; ++i) {
        const Field& f = r[static_cast<size_t>(i)];
        if (f.empty())
            continue;
        s += std::string(1, kind) + "." + std::to_string(r[col::Iid].u) + "." + std::to_string(r[col::Sid].u) + "." +
             std::to_string(i) + "." + kStatCols[i].name + "." + std::to_string(r[col::Pid].u) + ":" +
             tag_chars(f.tags) + ":" + type_name(f) + ":" + field_text(f) + "\n";
    }
    return s;
}

std::string stat_json_row(const Row& r) {
    const unsigned type = static_cast<unsigned>(r[col::Type].u);
    const char* obj = type == kTypeFe ? "Frontend" : type == kTypeBe ? "Backend" : type == kTypeSv ? "Server" : "Unknown";
    std::string s = "[";
    bool first = true;
    for (int i = 0; i < col::Count; ++i) {
        const Field& f = r[static_cast<size_t>(i)];
        if (f.empty())
            continue;
        if (!first)
            s += ",";
        first = false;
        s += "{\"objType\":\"" + std::string(obj) + "\",\"proxyId\":" + std::to_string(r[col::Iid].u) +
             ",\"id\":" + std::to_string(r[col::Sid].u) + ",\"field\":{\"pos\":" + std::to_string(i) +
             ",\"name\":\"" + kStatCols[i].name + "\"},\"processNum\":" + std::to_string(r[col::Pid].u) + "," +
             json_tags(f.tags) + json_value(f) + "}";
    }
    return s + "]";
}

const char* mode_name(const common::ProxyConf& p) { return p.mode == common::ProxyMode::Http ? "http" : "tcp"; }

// Server address as the stats "addr" column shows it: "ip:port", "[ip6]:port", or "unix".
std::string stat_addr(const common::SockAddr& a) {
    switch (a.family) {
    case common::AddrFamily::Inet4:
    case common::AddrFamily::Inet6: return a.to_string();
    case common::AddrFamily::Unix:
    case common::AddrFamily::Abstract: return "unix";
    case common::AddrFamily::Fd: break;
    }
    return {};
}

// The runtime fills every pointer; a view missing one is skipped rather than dereferenced.
bool complete(const ServerView& s) { return s.conf && s.counters && s.admin && s.weight; }

bool usable(const ServerView& s) { return *s.admin == AdminState::Ready && *s.weight > 0; }

struct StatCtx {
    const ProcessInfo& pi;
    int64_t now_steady;
    bool legends;  // addr/cookie/algo: HAProxy shows them at levels operator and admin
};

// The fields HAProxy sets for every object (stats_fill_{fe,sv,be}_stats).
void fill_common(Row& r, const StatCtx& cx, const std::string& px, const std::string& sv, const common::ProxyConf& conf,
                 unsigned iid, unsigned sid, unsigned type) {
    r[col::PxName] = mk_str(kOriginKey | kNatureName | kScopeService, px);
    r[col::SvName] = mk_str(kOriginKey | kNatureName | kScopeService, sv);
    r[col::Mode] = mk_str(kOriginConfig | kScopeService, mode_name(conf));
    r[col::Pid] = mk_u32(kOriginKey, cx.pi.index);
    r[col::Iid] = mk_u32(kOriginKey | kScopeService, iid);
    r[col::Sid] = mk_u32(kOriginKey | kScopeService, sid);
    r[col::Type] = mk_u32(kOriginConfig | kScopeService, type);
}

void fill_http(Row& r, bool http, const Counters& k) {
    if (!http)
        return;  // HAProxy leaves the HTTP columns empty in TCP mode
    int i = 0;
    for (int c : {col::Hrsp1xx, col::Hrsp2xx, col::Hrsp3xx, col::Hrsp4xx, col::Hrsp5xx, col::HrspOther})
        r[static_cast<size_t>(c)] = mk_u64(kNatureCounter, k.hrsp[i++]);
}

// Columns left empty although HAProxy fills them, because proxyd does not measure them:
// connect, lastsess, qtime/ctime/rtime/ttime and their *_max, backend chkdown/downtime.
Row frontend_row(const ProxyView& p, const StatCtx& cx, unsigned iid) {
    Row r;
    const Counters& c = *p.fe;
    fill_common(r, cx, p.conf->name, "FRONTEND", *p.conf, iid, 0, kTypeFe);
    const bool http = p.conf->mode == common::ProxyMode::Http;
    r[col::SCur] = mk_u32(0, c.cur);
    r[col::SMax] = mk_u32(kNatureMax, c.max);
    r[col::SLim] = mk_u32(kOriginConfig | kNatureLimit, p.fe_maxconn > 0 ? static_cast<uint64_t>(p.fe_maxconn) : 0);
    r[col::STot] = mk_u64(kNatureCounter, c.total);
    r[col::BIn] = mk_u64(kNatureCounter, c.bytes_in);
    r[col::BOut] = mk_u64(kNatureCounter, c.bytes_out);
    r[col::DReq] = mk_u64(kNatureCounter, c.denied);
    r[col::DResp] = mk_u64(kNatureCounter, 0);
    r[col::EReq] = mk_u64(kNatureCounter, c.req_errors);
    r[col::DCon] = mk_u64(kNatureCounter, 0);
    r[col::DSes] = mk_u64(kNatureCounter, 0);
    r[col::Status] = mk_str(kOriginStatus, p.fe_paused || cx.pi.stopping ? "STOP" : "OPEN");
    r[col::Rate] = mk_u32(kNatureRate, c.rate.rate(cx.now_steady));
    r[col::RateLim] = mk_u32(kOriginConfig | kNatureLimit, 0);
    r[col::RateMax] = mk_u32(kNatureMax, c.rate_max);
    r[col::WRew] = mk_u64(kNatureCounter, 0);
    r[col::EInt] = mk_u64(kNatureCounter, 0);
    fill_http(r, http, c);
    if (http) {
        r[col::Intercepted] = mk_u64(kNatureCounter, c.intercepted);
        r[col::CacheLookups] = mk_u64(kNatureCounter, 0);
        r[col::CacheHits] = mk_u64(kNatureCounter, 0);
    }
    r[col::ReqRate] = mk_u32(kNatureRate, http ? c.req_rate.rate(cx.now_steady) : 0);
    r[col::ReqRateMax] = mk_u32(kNatureMax, c.req_rate_max);
    r[col::ReqTot] = mk_u64(kNatureCounter, c.req_tot);
    for (int k : {col::CompIn, col::CompOut, col::CompByp, col::CompRsp})
        r[static_cast<size_t>(k)] = mk_u64(kNatureCounter, 0);
    // A TCP proxy has one session per connection: the connection columns mirror them.
    r[col::ConnRate] = mk_u32(kNatureRate, c.rate.rate(cx.now_steady));
    r[col::ConnRateMax] = mk_u32(kNatureMax, c.rate_max);
    r[col::ConnTot] = mk_u64(kNatureCounter, c.total);
    return r;
}

// Queue, session and error columns that server and backend rows share.
void fill_queue_and_counters(Row& r, const Counters& c) {
    r[col::QCur] = mk_u32(0, c.qcur);
    r[col::QMax] = mk_u32(kNatureMax, c.qmax);
    r[col::SCur] = mk_u32(0, c.cur);
    r[col::SMax] = mk_u32(kNatureMax, c.max);
    r[col::STot] = mk_u64(kNatureCounter, c.total);
    r[col::BIn] = mk_u64(kNatureCounter, c.bytes_in);
    r[col::BOut] = mk_u64(kNatureCounter, c.bytes_out);
    r[col::DResp] = mk_u64(kNatureCounter, 0);
    r[col::ECon] = mk_u64(kNatureCounter, c.conn_errors);
    r[col::EResp] = mk_u64(kNatureCounter, c.resp_errors);
    r[col::WRetr] = mk_u64(kNatureCounter, c.retries);
    r[col::WRedis] = mk_u64(kNatureCounter, c.redispatches);
    r[col::WRew] = mk_u64(kNatureCounter, 0);
    r[col::EInt] = mk_u64(kNatureCounter, 0);
    r[col::Reuse] = mk_u64(kNatureCounter, 0);
}

Row server_row(const ProxyView& p, const ServerView& s, const StatCtx& cx, unsigned iid, unsigned sid) {
    Row r;
    const Counters& c = *s.counters;
    fill_common(r, cx, p.conf->name, s.conf->name, *p.conf, iid, sid, kTypeSv);
    fill_queue_and_counters(r, c);
    if (s.conf->maxconn > 0)
        r[col::SLim] = mk_u32(kOriginConfig | kNatureLimit, static_cast<uint64_t>(s.conf->maxconn));
    r[col::SrvICur] = mk_u32(0, 0);
    r[col::IdleConnCur] = mk_u32(0, 0);
    r[col::SafeConnCur] = mk_u32(0, 0);
    r[col::UsedConnCur] = mk_u32(0, s.cur_conns > 0 ? static_cast<uint64_t>(s.cur_conns) : 0);
    r[col::NeedConnEst] = mk_u32(0, 0);
    // Without health checks, a ready server is UP (HAProxy itself would print "no check").
    const char* status = *s.admin == AdminState::Maint ? "MAINT" : *s.admin == AdminState::Drain ? "DRAIN" : "UP";
    r[col::Status] = mk_str(kOriginStatus, status);
    r[col::LastChg] = mk_u32(kNatureAge, age_since(c.last_change, cx.pi));
    const uint64_t w = *s.weight > 0 ? static_cast<uint64_t>(*s.weight) : 0;
    r[col::Weight] = mk_u32(kNatureAvg, w);
    r[col::UWeight] = mk_u32(kNatureAvg, w);
    r[col::Act] = mk_u32(kOriginStatus, s.conf->backup ? 0 : 1);
    r[col::Bck] = mk_u32(kOriginStatus, s.conf->backup ? 1 : 0);
    r[col::LbTot] = mk_u64(kNatureCounter, c.lbtot);
    r[col::Rate] = mk_u32(kNatureRate, c.rate.rate(cx.now_steady));
    r[col::RateMax] = mk_u32(kNatureMax, c.rate_max);
    fill_http(r, p.conf->mode == common::ProxyMode::Http, c);
    if (p.conf->mode == common::ProxyMode::Http)
        r[col::ReqTot] = mk_u64(kNatureCounter, c.req_tot);
    r[col::CliAbrt] = mk_u64(kNatureCounter, c.cli_aborts);
    r[col::SrvAbrt] = mk_u64(kNatureCounter, c.srv_aborts);
    if (cx.legends) {
        std::string a = stat_addr(s.conf->addr);
        if (!a.empty())
            r[col::Addr] = mk_str(kOriginConfig | kScopeService, a);
    }
    return r;
}

// HAProxy's default fullconn: a tenth of the maxconn of the frontends that lead to the
// backend (their default_backend, or a listen section itself), at least 1.
uint64_t backend_fullconn(const std::vector<ProxyView>& all, const ProxyView& be) {
    uint64_t total = 0;
    for (const auto& p : all) {
        if (!p.conf || !p.is_frontend || p.fe_maxconn <= 0)
            continue;
        const std::string& target = p.conf->default_backend.empty() && p.is_backend ? p.conf->name : p.conf->default_backend;
        if (target == be.conf->name)
            total += static_cast<uint64_t>(p.fe_maxconn);
    }
    uint64_t full = (total + 9) / 10;
    return full ? full : 1;
}

Row backend_row(const ProxyView& p, const std::vector<ProxyView>& all, const StatCtx& cx, unsigned iid, bool show_counts) {
    Row r;
    const Counters& c = *p.be;
    fill_common(r, cx, p.conf->name, "BACKEND", *p.conf, iid, 0, kTypeBe);
    // Like the balancer: usable active servers, else the first usable backup (no
    // 'option allbackups'). act/bck count the usable servers of each kind.
    uint64_t act = 0, bck = 0, act_w = 0, first_bck_w = 0, up = 0;
    size_t nbsrv = 0;
    for (const auto& s : p.servers) {
        if (!complete(s))
            continue;
        ++nbsrv;
        if (*s.admin != AdminState::Maint)
            ++up;
        if (!usable(s))
            continue;
        if (s.conf->backup) {
            if (!bck)
                first_bck_w = static_cast<uint64_t>(*s.weight);
            ++bck;
        } else {
            ++act;
            act_w += static_cast<uint64_t>(*s.weight);
        }
    }
    const uint64_t tot_w = act ? act_w : first_bck_w;
    fill_queue_and_counters(r, c);
    r[col::SLim] = mk_u32(kOriginConfig | kNatureLimit, backend_fullconn(all, p));
    r[col::DReq] = mk_u64(kNatureCounter, c.denied);
    std::string status = tot_w > 0 || nbsrv == 0 ? "UP" : "DOWN";
    if (show_counts)  // with "up" / "no-maint", as HAProxy
        status += " (" + std::to_string(up) + "/" + std::to_string(nbsrv) + ")";
    r[col::Status] = mk_str(kOriginStatus, status);
    r[col::AggSrvCheckStatus] = mk_u32(kNatureGauge, 0);
    r[col::Weight] = mk_u32(kNatureAvg, tot_w);
    r[col::UWeight] = mk_u32(kNatureAvg, tot_w);
    r[col::Act] = mk_u32(0, act);
    r[col::Bck] = mk_u32(0, bck);
    r[col::LastChg] = mk_u32(kNatureAge, age_since(c.last_change, cx.pi));
    r[col::LbTot] = mk_u64(kNatureCounter, c.lbtot);
    r[col::Rate] = mk_u32(0, c.rate.rate(cx.now_steady));  // sic: HAProxy tags these two as gauges
    r[col::RateMax] = mk_u32(0, c.rate_max);
    if (cx.legends)
        r[col::Algo] = mk_str(kOriginConfig | kScopeService, "roundrobin");
    const bool http = p.conf->mode == common::ProxyMode::Http;
    fill_http(r, http, c);
    if (http) {
        r[col::ReqTot] = mk_u64(kNatureCounter, c.req_tot);
        r[col::CacheLookups] = mk_u64(kNatureCounter, 0);
        r[col::CacheHits] = mk_u64(kNatureCounter, 0);
    }
    r[col::CliAbrt] = mk_u64(kNatureCounter, c.cli_aborts);
    r[col::SrvAbrt] = mk_u64(kNatureCounter, c.srv_aborts);
    for (int k : {col::CompIn, col::CompOut, col::CompByp, col::CompRsp})
        r[static_cast<size_t>(k)] = mk_u64(kNatureCounter, 0);
    return r;
}

// ---------------------------------------------------------------------------------------
// Command dispatch

struct Ctx {
    WorkerView& w;
    CliLevel level;
};

using Args = std::vector<std::string>;

// HAProxy's word splitting: blanks are spaces and tabs; a backslash escapes the next
// character (so "a\ b" is one word).
Args tokenize(std::string_view line) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
        line.remove_suffix(1);
    Args args;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            ++i;
        if (i >= line.size())
            break;
        std::string word;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
            if (line[i] == '\\' && i + 1 < line.size())
                ++i;
            word += line[i++];
        }
        args.push_back(std::move(word));
    }
    return args;
}

struct Command {
    std::array<std::string_view, 3> words;  // "" past the last word
    std::string_view usage;
    CliLevel level;
    std::string (*run)(Ctx&, const Args&);
};

size_t word_count(const Command& c) {
    size_t n = 0;
    while (n < c.words.size() && !c.words[n].empty())
        ++n;
    return n;
}

const std::string& arg(const Args& a, size_t i) {
    static const std::string empty;
    return i < a.size() ? a[i] : empty;
}

// "<name>" or "#<id>" (HAProxy's numeric ids, here the 1-based order).
bool name_or_id_matches(std::string_view ref, const std::string& name, size_t index1) {
    if (!ref.empty() && ref[0] == '#') {
        auto id = to_u64(ref.substr(1));
        return id && *id == index1;
    }
    return ref == name;
}

// HAProxy's proxy_be_by_name(): a backend or listen section, by name or "#<id>".
const ProxyView* find_backend(const std::vector<ProxyView>& all, std::string_view ref) {
    for (size_t i = 0; i < all.size(); ++i)
        if (all[i].conf && all[i].is_backend && name_or_id_matches(ref, all[i].conf->name, i + 1))
            return &all[i];
    return nullptr;
}

struct ServerRef {
    const ProxyView* be = nullptr;
    const ServerView* srv = nullptr;
};

// HAProxy's cli_find_server(): "backend/server"; on failure returns the message to print.
std::optional<ServerRef> find_server(const std::vector<ProxyView>& all, const std::string& spec, std::string* err) {
    size_t slash = spec.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == spec.size()) {
        *err = "Require 'backend/server'.\n";
        return std::nullopt;
    }
    std::string_view be_ref = std::string_view(spec).substr(0, slash);
    std::string_view sv_ref = std::string_view(spec).substr(slash + 1);
    const ProxyView* be = find_backend(all, be_ref);
    if (!be) {
        *err = "No such backend.\n";
        return std::nullopt;
    }
    for (size_t i = 0; i < be->servers.size(); ++i) {
        if (complete(be->servers[i]) && name_or_id_matches(sv_ref, be->servers[i].conf->name, i + 1))
            return ServerRef{be, &be->servers[i]};
    }
    *err = "No such server.\n";
    return std::nullopt;
}

void set_admin(Ctx& cx, const ServerRef& ref, AdminState st) {
    if (*ref.srv->admin != st) {
        *ref.srv->admin = st;
        ProcessInfo pi = cx.w.info();
        ref.srv->counters->last_change = pi.start_time_sec + pi.uptime_sec;
    }
    cx.w.server_changed(ref.be->conf->name, ref.srv->conf->name);
}

// HAProxy's server_parse_weight_change_request(): "N" (0..256) or "N%" of the configured
// weight. Returns an error message, or nullopt after applying the weight.
std::optional<std::string> set_weight(Ctx& cx, const ServerRef& ref, std::string_view text) {
    if (text.empty())
        return std::string("Require <weight> or <weight%>.\n");
    size_t i = 0;
    bool neg = false;
    if (text[i] == '+' || text[i] == '-')
        neg = text[i++] == '-';
    size_t digits_start = i;
    int64_t w = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        if (w < 1'000'000'000)  // saturate: anything this large is out of range anyway
            w = w * 10 + (text[i] - '0');
        ++i;
    }
    if (i == digits_start)
        return std::string("Empty weight string empty or preceded by garbage.\n");
    if (neg)
        w = -w;
    std::string_view rest = text.substr(i);
    if (rest == "%") {
        if (w < 0)
            return std::string("Relative weight must be positive.\n");
        w = std::min<int64_t>(w, 25600);
        w = ref.srv->conf->weight * w / 100;
        w = std::min<int64_t>(w, 256);
    } else if (w < 0 || w > 256) {
        return std::string("Absolute weight can only be between 0 and 256 inclusive.\n");
    } else if (!rest.empty()) {
        return std::string("Trailing garbage in weight string.\n");
    }
    *ref.srv->weight = static_cast<int>(w);
    cx.w.server_changed(ref.be->conf->name, ref.srv->conf->name);
    return std::nullopt;
}

std::string cmd_show_info(Ctx& cx, const Args& a) { return show_info(cx.w.info(), parse_format(a, 2)); }

// show stat [domain proxy] [{<iid>|<proxy>} <type> <sid>] [json|typed] [up|no-maint]
std::string cmd_show_stat(Ctx& cx, const Args& a) {
    size_t i = 2;
    if (arg(a, i) == "domain") {
        if (arg(a, i + 1) != "proxy")
            return "Invalid statistics domain.\n";
        i += 2;
    }
    auto all = cx.w.proxies();
    bool bound = false;
    int64_t want_iid = -1, want_sid = -1;
    int64_t want_types = -1;
    if (i + 2 < a.size()) {
        // As HAProxy: three more words select objects (proxy name or id, type mask, server id).
        const std::string& px = a[i];
        want_iid = 0;
        for (size_t k = 0; k < all.size(); ++k)
            if (all[k].conf && all[k].conf->name == px)
                want_iid = static_cast<int64_t>(k + 1);
        if (!want_iid)
            want_iid = to_i64(px).value_or(0);
        if (!want_iid)
            return "No such proxy.\n";
        want_types = to_i64(a[i + 1]).value_or(0);
        want_sid = to_i64(a[i + 2]).value_or(0);
        bound = true;
        i += 3;
    }
    Format fmt = Format::Text;
    bool hide_down = false, hide_maint = false;
    for (; i < a.size(); ++i) {
        if (a[i] == "json")
            fmt = Format::Json;
        else if (a[i] == "typed")
            fmt = Format::Typed;
        else if (a[i] == "up")
            hide_down = true;
        else if (a[i] == "no-maint")
            hide_maint = true;
    }
    auto type_wanted = [&](unsigned t) { return !bound || (want_types & (int64_t{1} << t)) != 0; };

    const ProcessInfo pi = cx.w.info();
    StatCtx sc{pi, steady_now_sec(), cx.level >= CliLevel::Operator};
    std::vector<Row> rows;
    for (size_t k = 0; k < all.size(); ++k) {
        const ProxyView& p = all[k];
        const unsigned iid = static_cast<unsigned>(k + 1);
        if (!p.conf)
            continue;
        if (want_iid != -1 && want_iid != static_cast<int64_t>(iid))
            continue;
        if (p.is_frontend && p.fe && type_wanted(kTypeFe))
            rows.push_back(frontend_row(p, sc, iid));
        if (p.is_backend && type_wanted(kTypeSv)) {
            for (size_t s = 0; s < p.servers.size(); ++s) {
                const ServerView& sv = p.servers[s];
                if (!complete(sv))
                    continue;
                if (bound && want_sid != -1 && want_sid != static_cast<int64_t>(s + 1))
                    continue;
                if ((hide_down || hide_maint) && *sv.admin == AdminState::Maint)
                    continue;  // MAINT is proxyd's only DOWN state
                rows.push_back(server_row(p, sv, sc, iid, static_cast<unsigned>(s + 1)));
            }
        }
        if (p.is_backend && p.be && type_wanted(kTypeBe))
            rows.push_back(backend_row(p, all, sc, iid, hide_down || hide_maint));
    }

    std::string out;
    if (fmt == Format::Json) {
        out = "[";
        for (size_t r = 0; r < rows.size(); ++r)
            out += (r ? "," : "") + stat_json_row(rows[r]);
        return out + "]\n";
    }
    if (fmt == Format::Text)
        out = stat_csv_header();
    for (const auto& r : rows)
        out += fmt == Format::Typed ? stat_typed_row(r) : stat_csv_row(r);
    return out + "\n";
}

std::string ip_only(const common::SockAddr& a) {
    char buf[INET6_ADDRSTRLEN] = "-";
    if (a.family == common::AddrFamily::Inet4)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a.ss)->sin_addr, buf, sizeof buf);
    else if (a.family == common::AddrFamily::Inet6)
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a.ss)->sin6_addr, buf, sizeof buf);
    return buf;
}

// show servers state [<backend>]: HAProxy's server-state file format, version 1. Without
// health checks: check status INI (1), result UNKNOWN (0), health = rise (2) or 0 for a
// server disabled in the configuration (whose checks are also PAUSED, 0x08), as HAProxy
// initialises them. Admin state bits: 0x01 forced maint, 0x04 maint from the configuration
// (kept for as long as HAProxy keeps it: for ever), 0x08 forced drain.
std::string cmd_show_servers_state(Ctx& cx, const Args& a) {
    auto all = cx.w.proxies();
    const ProxyView* only = nullptr;
    if (!arg(a, 3).empty()) {
        only = find_backend(all, arg(a, 3));
        if (!only)
            return "Can't find backend.\n";
    }
    const ProcessInfo pi = cx.w.info();
    std::string out =
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
        "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state "
        "srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port "
        "srv_check_addr srv_agent_addr srv_agent_port\n";
    for (size_t k = 0; k < all.size(); ++k) {
        const ProxyView& p = all[k];
        if (!p.conf || !p.is_backend || (only && only != &p))
            continue;
        for (size_t s = 0; s < p.servers.size(); ++s) {
            const ServerView& sv = p.servers[s];
            if (!complete(sv))
                continue;
            const AdminState st = *sv.admin;
            const int op_state = st == AdminState::Maint ? 0 : 2;
            const int admin = (st == AdminState::Maint ? 0x01 : 0) | (sv.conf->disabled ? 0x04 : 0) |
                              (st == AdminState::Drain ? 0x08 : 0);
            char line[1024];
            std::snprintf(line, sizeof line, "%zu %s %zu %s %s %d %d %d %d %" PRIu64 " %d %d %d %d %d %d %d %s %u %s %d %d %s %s %d\n",
                          k + 1, p.conf->name.c_str(), s + 1, sv.conf->name.c_str(), ip_only(sv.conf->addr).c_str(),
                          op_state, admin, *sv.weight, sv.conf->weight, age_since(sv.counters->last_change, pi),
                          1, 0, sv.conf->disabled ? 0 : 2, sv.conf->disabled ? 0x08 : 0, 0, 0, 0, "-",
                          static_cast<unsigned>(sv.conf->addr.port()), "-", 0, 0, "-", "-", 0);
            out += line;
        }
    }
    return out + "\n";
}

std::string server_admin_command(Ctx& cx, const Args& a, AdminState state) {
    std::string err;
    auto all = cx.w.proxies();
    auto ref = find_server(all, arg(a, 2), &err);
    if (!ref)
        return err;
    set_admin(cx, *ref, state);
    return {};
}

std::string cmd_disable_server(Ctx& cx, const Args& a) { return server_admin_command(cx, a, AdminState::Maint); }

std::string cmd_enable_server(Ctx& cx, const Args& a) { return server_admin_command(cx, a, AdminState::Ready); }

std::string cmd_set_server(Ctx& cx, const Args& a) {
    std::string err;
    auto all = cx.w.proxies();
    auto ref = find_server(all, arg(a, 2), &err);
    if (!ref)
        return err;
    const std::string& what = arg(a, 3);
    if (what == "weight")
        return set_weight(cx, *ref, arg(a, 4)).value_or("");
    if (what == "state") {
        const std::string& st = arg(a, 4);
        if (st == "ready")
            set_admin(cx, *ref, AdminState::Ready);
        else if (st == "drain")
            set_admin(cx, *ref, AdminState::Drain);
        else if (st == "maint")
            set_admin(cx, *ref, AdminState::Maint);
        else
            return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n";
        return {};
    }
    return "usage: set server <backend>/<server> state | weight\n";
}

std::string cmd_set_weight(Ctx& cx, const Args& a) {
    std::string err;
    auto all = cx.w.proxies();
    auto ref = find_server(all, arg(a, 2), &err);
    if (!ref)
        return err;
    return set_weight(cx, *ref, arg(a, 3)).value_or("");
}

std::string cmd_get_weight(Ctx& cx, const Args& a) {
    std::string err;
    auto all = cx.w.proxies();
    auto ref = find_server(all, arg(a, 2), &err);
    if (!ref)
        return err;
    return std::to_string(*ref->srv->weight) + " (initial " + std::to_string(ref->srv->conf->weight) + ")\n";
}

// HAProxy's human_time(): at most two units, "0s" for zero.
std::string human_time(int64_t t) {
    if (t < 0)
        return "?";
    std::string r;
    int cnt = 2;
    if (t >= 86400) {
        r += std::to_string(t / 86400) + "d";
        --cnt;
    }
    if (cnt && t % 86400 / 3600) {
        r += std::to_string(t % 86400 / 3600) + "h";
        --cnt;
    }
    if (cnt && t % 3600 / 60) {
        r += std::to_string(t % 3600 / 60) + "m";
        --cnt;
    }
    if ((cnt && t % 60) || !t)
        r += std::to_string(t % 60) + "s";
    return r;
}

// One `show sess` line. HAProxy's prefix up to "lat=" is kept (scheduler fields, which
// proxyd does not have, are constant: ts=00 epoch=0 calls=0 rate=0 cpu=0 lat=0); its
// buffer and stream-connector dumps (rq[..] rp[..] scf scb exp rc) are replaced by
// proxyd's own phase=<phase> bin=<bytes from client> bout=<bytes to client>.
std::string session_line(const SessionView& s) {
    const char* proto = "unix_stream";
    if (!s.src.empty() && s.src[0] == '[')
        proto = "tcpv6";
    else if (!s.src.empty() && s.src[0] >= '0' && s.src[0] <= '9')
        proto = "tcpv4";
    char id[32];
    std::snprintf(id, sizeof id, "0x%" PRIx64, s.id);
    return std::string(id) + ": proto=" + proto + " src=" + s.src + " fe=" + s.frontend +
           " be=" + (s.backend.empty() ? "<NONE>" : s.backend) + " srv=" + (s.server.empty() ? "<none>" : s.server) +
           " ts=00 epoch=0 age=" + human_time(s.age_sec) + " calls=0 rate=0 cpu=0 lat=0 phase=" +
           (s.phase.empty() ? "-" : s.phase) + " bin=" + std::to_string(s.bytes_in) +
           " bout=" + std::to_string(s.bytes_out) + "\n";
}

// show sess [<id>|all]: "<id>" is parsed as strtoul(..., 0) does (0x prefix for hex); an id
// that parses to 0 lists everything, as in HAProxy. A known id prints that session's line
// (HAProxy dumps its internals there, whose format it documents as unstable).
std::string cmd_show_sess(Ctx& cx, const Args& a) {
    auto sessions = cx.w.sessions();
    const std::string& which = arg(a, 2);
    uint64_t target = 0;
    if (!which.empty() && which != "all") {
        std::string_view v = which;
        int base = 10;
        if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
            v.remove_prefix(2);
            base = 16;
        } else if (v.size() > 1 && v[0] == '0') {
            v.remove_prefix(1);
            base = 8;
        }
        std::from_chars(v.data(), v.data() + v.size(), target, base);  // stops at garbage, as strtoul
    }
    std::string out;
    if (target) {
        for (const auto& s : sessions)
            if (s.id == target)
                return session_line(s) + "\n";
        return "Session not found.\n";
    }
    for (const auto& s : sessions)
        out += session_line(s);
    return out + "\n";
}

std::string cmd_help(Ctx& cx, const Args& a);

// Usage strings as HAProxy writes them (the text before ':' padded to 40 columns); the
// list is printed sorted by usage, as HAProxy sorts it.
constexpr Command kCommands[] = {
    {{"disable", "server", ""}, "disable server (DEPRECATED)             : disable a server for maintenance (use 'set server' instead)", CliLevel::Admin, cmd_disable_server},
    {{"enable", "server", ""}, "enable server  (DEPRECATED)             : enable a disabled server (use 'set server' instead)", CliLevel::Admin, cmd_enable_server},
    {{"get", "weight", ""}, "get weight <bk>/<srv>                   : report a server's current weight", CliLevel::User, cmd_get_weight},
    {{"set", "server", ""}, "set server <bk>/<srv> [opts]            : change a server's state or weight", CliLevel::Admin, cmd_set_server},
    {{"set", "weight", ""}, "set weight <bk>/<srv>  (DEPRECATED)     : change a server's weight (use 'set server' instead)", CliLevel::Admin, cmd_set_weight},
    {{"show", "info", ""}, "show info [json|typed]*                 : report information about the running process", CliLevel::User, cmd_show_info},
    {{"show", "servers", "state"}, "show servers state [<backend>]          : dump volatile server information (all or for a single backend)", CliLevel::User, cmd_show_servers_state},
    {{"show", "sess", ""}, "show sess [id]                          : report the list of current sessions or dump this exact session", CliLevel::Operator, cmd_show_sess},
    {{"show", "stat", ""}, "show stat [json|no-maint|typed|up]*     : report counters for each proxy and server", CliLevel::User, cmd_show_stat},
    {{"help", "", ""}, "", CliLevel::User, cmd_help},
};

constexpr std::string_view kHelpLine = "  help [<command>]                        : list matching or all commands\n";

// Number of leading words of `args` that equal the command's words.
size_t matching_words(const Command& c, std::span<const std::string> args) {
    size_t n = 0;
    while (n < c.words.size() && !c.words[n].empty() && n < args.size() && c.words[n] == args[n])
        ++n;
    return n;
}

// HAProxy's cli_gen_usage_msg() without its fuzzy matching: the commands sharing the
// longest run of leading words with `args` (all of them when none does).
std::string usage_list(CliLevel level, std::span<const std::string> args) {
    size_t length = 0;
    for (const auto& c : kCommands)
        if (!c.usage.empty() && c.level <= level)
            length = std::max(length, matching_words(c, args));
    std::string out;
    for (const auto& c : kCommands)
        if (!c.usage.empty() && c.level <= level && matching_words(c, args) >= length)
            out += "  " + std::string(c.usage) + "\n";
    return out + std::string(kHelpLine);
}

std::string cmd_help(Ctx& cx, const Args& a) {
    std::span<const std::string> rest(a);
    return "The following commands are valid at this level:\n" + usage_list(cx.level, rest.subspan(1));
}

std::string unknown_command(CliLevel level, const Args& a) {
    return "Unknown command: '" + a[0] + "', but maybe one of the following ones is a better match:\n" +
           usage_list(level, a);
}

// ---------------------------------------------------------------------------------------
// Merging

std::string_view trim_blanks(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

bool is_json_array(std::string_view s) {
    s = trim_blanks(s);
    return s.size() >= 2 && s.front() == '[' && s.back() == ']';
}

// The json forms carry the process number in every element (HAProxy's "processNum"), so
// several workers' answers merge into one document by joining their arrays. Replies that
// are not arrays (a worker's error) are left out.
std::string join_json_arrays(const std::vector<std::string>& replies) {
    std::string out = "[";
    bool any = false;
    for (const auto& r : replies) {
        if (!is_json_array(r))
            continue;
        std::string_view inner = trim_blanks(r);
        inner = trim_blanks(inner.substr(1, inner.size() - 2));
        if (inner.empty())
            continue;
        if (any)
            out += ",";
        out += inner;
        any = true;
    }
    return out + "]\n";
}

// The typed forms name the process in every line: merging is concatenating.
std::string join_typed(const std::vector<std::string>& replies) {
    std::string out;
    for (const auto& r : replies)
        for (auto l : split_lines(r))
            if (!l.empty())
                out += std::string(l) + "\n";
    return out + "\n";
}

// "0.Name.1:POS:str:proxyd" (show info typed), "F.1.0.0.pxname.1:KNS:str:fe" (show stat typed).
bool is_typed_line(std::string_view l) {
    if (l.size() < 2)
        return false;
    bool info = l[0] >= '0' && l[0] <= '9';
    bool stat = (l[0] == 'F' || l[0] == 'B' || l[0] == 'S' || l[0] == 'L') && l[1] == '.';
    return (info || stat) && l.find(':') != std::string_view::npos && l.find(": ") == std::string_view::npos;
}

// Splits "Name: value" (the name may contain blanks, e.g. "Unstoppable Jobs").
std::optional<std::pair<std::string_view, std::string_view>> info_line(std::string_view l) {
    size_t p = l.find(": ");
    if (p == std::string_view::npos) {
        if (!l.empty() && l.back() == ':')  // "node: " with an empty value, trailing blank trimmed
            return std::pair{l.substr(0, l.size() - 1), std::string_view()};
        return std::nullopt;
    }
    return std::pair{l.substr(0, p), l.substr(p + 2)};
}

}  // namespace

std::string run_worker_command(WorkerView& w, std::string_view line, CliLevel level) {
    Args args = tokenize(line);
    if (args.empty())
        return {};  // HAProxy ignores an empty command
    const Command* best = nullptr;
    size_t best_words = 0;
    for (const auto& c : kCommands) {
        size_t n = word_count(c);
        if (n > best_words && matching_words(c, args) == n) {
            best = &c;
            best_words = n;
        }
    }
    if (!best)
        return unknown_command(level, args);
    if (best->level > level)
        return "Permission denied\n";
    Ctx cx{w, level};
    return best->run(cx, args);
}

// Merges `show info` text replies: counters, gauges and limits are summed, maxima and
// minima kept, the uptime taken from the oldest worker, and the rest from the first reply.
// The json and typed forms are joined (each element names its process). A first reply in
// none of these formats (an error) is returned as is.
std::string merge_show_info(const std::vector<std::string>& replies) {
    if (replies.empty())
        return {};
    if (is_json_array(replies[0]))
        return join_json_arrays(replies);
    if (auto ls = split_lines(replies[0]); !ls.empty() && is_typed_line(ls[0]))
        return join_typed(replies);
    static const std::vector<std::string_view> sum = {
        "CurrConns", "CumConns", "CumReq", "ConnRate", "SessRate", "Maxconn", "Hard_maxconn", "Maxsock",
        "Jobs", "Listeners", "TotalBytesOut", "Run_queue", "CurrStreams", "CumStreams", "Tasks",
        "PoolAlloc_MB", "PoolUsed_MB", "PoolFailed", "PipesUsed", "PipesFree", "Unstoppable Jobs",
        "ActivePeers", "ConnectedPeers", "DroppedLogs", "FailedResolutions", "TotalSplicedBytesOut",
        "BytesOutRate", "DebugCommandsIssued", "CumRecvLogs", "PoolAlloc_bytes", "PoolUsed_bytes",
        "TotalWarnings", "MaxconnReached", "Niced_tasks", "BlockedTrafficWarnings"};
    static const std::vector<std::string_view> max = {"MaxConnRate", "MaxSessRate"};
    static const std::vector<std::string_view> oldest = {"Uptime", "Uptime_sec", "Start_time_sec"};
    auto in = [](const std::vector<std::string_view>& set, std::string_view n) {
        return std::find(set.begin(), set.end(), n) != set.end();
    };

    std::vector<std::map<std::string, std::string, std::less<>>> values(replies.size());
    for (size_t r = 0; r < replies.size(); ++r)
        for (auto l : split_lines(replies[r]))
            if (auto kv = info_line(l))
                values[r].emplace(std::string(kv->first), std::string(kv->second));
    auto first_lines = split_lines(replies[0]);
    if (first_lines.empty() || !info_line(first_lines[0]))
        return replies[0];

    size_t old = 0;
    uint64_t best_up = 0;
    for (size_t r = 0; r < replies.size(); ++r) {
        auto it = values[r].find("Uptime_sec");
        if (it == values[r].end())
            continue;
        if (auto v = to_u64(it->second); v && *v > best_up) {
            best_up = *v;
            old = r;
        }
    }

    std::string out;
    for (auto l : first_lines) {
        auto kv = info_line(l);
        if (!kv) {
            if (!l.empty())
                out += std::string(l) + "\n";
            continue;
        }
        std::string name(kv->first);
        std::string value(kv->second);
        if (name == "Nbproc") {
            value = std::to_string(replies.size());
        } else if (in(oldest, name)) {
            auto it = values[old].find(name);
            if (it != values[old].end())
                value = it->second;
        } else if (in(sum, name) || in(max, name) || name == "Idle_pct") {
            std::optional<uint64_t> acc;
            for (const auto& m : values) {
                auto it = m.find(name);
                if (it == m.end())
                    continue;
                auto v = to_u64(it->second);
                if (!v)
                    continue;
                if (!acc)
                    acc = *v;
                else if (in(sum, name))
                    *acc += *v;
                else if (in(max, name))
                    acc = std::max(*acc, *v);
                else
                    acc = std::min(*acc, *v);
            }
            if (acc)
                value = std::to_string(*acc);
        }
        out += name + ": " + value + "\n";
    }
    if (ends_with_blank_line(replies[0]))
        out += "\n";
    return out;
}

// Merges `show stat` CSV replies row by row (rows keyed by pxname,svname; columns matched
// by header name), per column: counters, gauges, rates and limits summed; *max columns and
// downtime the maximum; ages (lastchg, lastsess) the minimum; keys, statuses, weights,
// configuration and averages from the first reply. Header and row order are the first
// reply's. The json and typed forms are joined (each element names its process). A first
// reply in none of these formats (an error) is returned as is.
std::string merge_show_stat(const std::vector<std::string>& replies) {
    if (replies.empty())
        return {};
    if (is_json_array(replies[0]))
        return join_json_arrays(replies);
    if (auto ls = split_lines(replies[0]); !ls.empty() && is_typed_line(ls[0]))
        return join_typed(replies);
    if (replies[0].rfind("# ", 0) != 0)
        return replies[0];

    struct Parsed {
        std::map<std::string, size_t, std::less<>> col;  // header name -> index
        std::map<std::string, std::vector<std::string>> rows;
    };
    auto key_of = [](const std::vector<std::string>& f) {
        return f.size() >= 2 ? f[0] + '\0' + f[1] : std::string();
    };
    std::vector<Parsed> parsed(replies.size());
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> first_rows;
    for (size_t r = 0; r < replies.size(); ++r) {
        for (auto l : split_lines(replies[r])) {
            if (l.empty())
                continue;
            if (l.rfind("# ", 0) == 0) {
                auto names = csv_split(l.substr(2));
                for (size_t i = 0; i < names.size(); ++i)
                    parsed[r].col.emplace(names[i], i);
                if (r == 0)
                    header = std::move(names);
                continue;
            }
            auto f = csv_split(l);
            if (r == 0)
                first_rows.push_back(f);
            parsed[r].rows.emplace(key_of(f), std::move(f));
        }
    }

    std::map<std::string, Merge, std::less<>> ops;
    for (const auto& c : kStatCols)
        ops.emplace(c.name, c.merge);

    std::string out = replies[0].substr(0, replies[0].find('\n')) + "\n";
    for (auto row : first_rows) {
        const std::string key = key_of(row);
        for (size_t c = 0; c < header.size() && c < row.size(); ++c) {
            auto op_it = ops.find(header[c]);
            const Merge op = op_it == ops.end() ? Merge::First : op_it->second;
            if (op == Merge::First)
                continue;
            std::optional<int64_t> acc;
            bool saw_nonneg = false;
            for (size_t r = 0; r < replies.size(); ++r) {
                auto rit = parsed[r].rows.find(key);
                auto cit = parsed[r].col.find(header[c]);
                if (rit == parsed[r].rows.end() || cit == parsed[r].col.end() || cit->second >= rit->second.size())
                    continue;
                auto v = to_i64(rit->second[cit->second]);
                if (!v)
                    continue;
                if (op == Merge::Min && *v >= 0 && !saw_nonneg) {
                    acc.reset();  // a negative age means "never": any real age wins
                    saw_nonneg = true;
                }
                if (op == Merge::Min && saw_nonneg && *v < 0)
                    continue;
                if (!acc)
                    acc = *v;
                else if (op == Merge::Sum)
                    *acc += *v;
                else if (op == Merge::Max)
                    acc = std::max(*acc, *v);
                else
                    acc = std::min(*acc, *v);
            }
            if (acc)
                row[c] = std::to_string(*acc);
        }
        std::string line;
        for (size_t c = 0; c < row.size(); ++c) {
            if (c)
                line += ",";
            line += csv_enc(row[c]);
        }
        out += line + "\n";
    }
    if (ends_with_blank_line(replies[0]))
        out += "\n";
    return out;
}

}  // namespace proxyd::worker
