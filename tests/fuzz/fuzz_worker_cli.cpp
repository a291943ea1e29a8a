// Fuzz target: worker CLI commands. A command line comes from a CLI client (through the
// master or a stats socket), so any bytes must give a reply, never a crash. Run at admin
// level so that state-changing commands are reached too; the merge functions get the reply
// (and a mangled copy) as if two workers had answered.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "worker/cli_commands.h"
#include "worker/stats.h"

namespace {

using namespace proxyd::worker;

const char* const kConfig =
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
    "    default_backend be\n"
    "backend be\n"
    "    server s1 127.0.0.1:9101 weight 10\n"
    "    server s2 127.0.0.1:9102 disabled\n"
    "    server s3 [::1]:9103 backup maxconn 5\n";

class FuzzWorker : public WorkerView {
public:
    FuzzWorker() {
        std::vector<proxyd::common::ConfigSource> src{{"fuzz.cfg", kConfig}};
        auto env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
        auto r = proxyd::common::parse_config(src, env, false);
        if (!r.config)
            std::abort();  // the fixed configuration above must parse
        cfg_ = std::make_unique<proxyd::common::Config>(*r.config);
        for (const auto& p : cfg_->proxies) {
            fe_.emplace_back();
            be_.emplace_back();
            for (const auto& s : p.servers) {
                counters_.emplace_back().total = 3;
                admin_.push_back(s.disabled ? AdminState::Maint : AdminState::Ready);
                weight_.push_back(s.weight);
            }
        }
        sessions_.push_back(SessionView{0x10, "fe", "be", "s1", "192.0.2.1:1234", "established", 42, 10, 20});
        sessions_.push_back(SessionView{0x11, "app", "", "", "[::1]:5", "queued", 0, 0, 0});
    }

    ProcessInfo info() const override {
        ProcessInfo i;
        i.pid = 1234;
        i.index = 1;
        i.worker_count = 2;
        i.start_time_sec = 1'700'000'000;
        i.uptime_sec = 100;
        i.node = "fuzz";
        return i;
    }

    std::vector<ProxyView> proxies() override {
        std::vector<ProxyView> out;
        size_t s_index = 0;
        for (size_t i = 0; i < cfg_->proxies.size(); ++i) {
            const auto& p = cfg_->proxies[i];
            ProxyView v;
            v.conf = &p;
            v.is_frontend = p.is_frontend;
            v.is_backend = p.is_backend;
            v.fe = p.is_frontend ? &fe_[i] : nullptr;
            v.be = p.is_backend ? &be_[i] : nullptr;
            v.fe_maxconn = p.maxconn > 0 ? p.maxconn : 2000;
            for (size_t k = 0; k < p.servers.size(); ++k, ++s_index)
                v.servers.push_back(
                    ServerView{&p.servers[k], &counters_[s_index], &admin_[s_index], &weight_[s_index], 1});
            out.push_back(std::move(v));
        }
        return out;
    }

    std::vector<SessionView> sessions() const override { return sessions_; }
    void server_changed(const std::string&, const std::string&) override {}

private:
    std::unique_ptr<proxyd::common::Config> cfg_;
    std::deque<Counters> fe_, be_, counters_;
    std::deque<AdminState> admin_;
    std::deque<int> weight_;
    std::vector<SessionView> sessions_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static FuzzWorker worker;
    std::string line(reinterpret_cast<const char*>(data), size);
    std::string reply = run_worker_command(worker, line, CliLevel::Admin);
    (void)run_worker_command(worker, line, CliLevel::User);
    // The merge functions parse worker replies: feed them this reply, and the raw input as
    // a reply of its own.
    (void)merge_show_info({reply, reply});
    (void)merge_show_stat({reply, reply});
    (void)merge_show_info({line, reply});
    (void)merge_show_stat({line, reply});
    (void)merge_show_stat({reply, line});
    return 0;
}
