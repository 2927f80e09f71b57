// `packbench serve` on loopback: endpoints against the model run in-process, errors, concurrency, hang-ups, SIGTERM, the openai client, eval --model-url.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cctype>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "core/atomic_file.h"
#include "datasets/tokenizer.h"
#include "tests/common/test_paths.h"
#include "tests/common/tiny_checkpoint.h"
#include "inference/engine.h"
#include "inference/engine_llama.h"
#include "trainers/model/llama_model.h"
#include "trainers/model/pretrained.h"

namespace fs = std::filesystem;
namespace pt = packbench::testing;
using json = nlohmann::json;
using ::testing::HasSubstr;
using namespace packbench::train;

namespace {

// `packbench serve` as a child process on a free port; stopped (SIGTERM, then SIGKILL) on scope exit.
class ServerProcess {
 public:
  ServerProcess(const fs::path& ckpt, const fs::path& log, const std::string& extra = "") : log_(log) {
    const std::string cmd = "exec " + pt::packbench_bin() + " serve --checkpoint " + ckpt.string() +
                            " --port 0 --threads 1 " + extra + " > " + log.string() + " 2>&1";
    pid_ = fork();
    if (pid_ == 0) {
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    const std::regex re("listening on http://127\\.0\\.0\\.1:(\\d+)");
    for (int i = 0; i < 600 && port_ == 0; ++i) {
      std::smatch m;
      const std::string text = read_log();
      if (std::regex_search(text, m, re)) port_ = std::stoi(m[1]);
      else if (exited()) break;
      else std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~ServerProcess() { stop(); }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string read_log() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // SIGTERM, then waits up to 20 s (SIGKILL after that). Returns the exit status.
  int stop() {
    if (pid_ <= 0) return status_;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (exited()) return status_;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
    pid_ = -1;
    return status_ = 128 + SIGKILL;
  }

 private:
  bool exited() {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) != pid_) return false;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    pid_ = -1;
    return true;
  }
  fs::path log_;
  pid_t pid_ = -1;
  int port_ = 0, status_ = -1;
};

// POST (or GET without a body) on the server; returns {status, parsed body}.
std::pair<int, json> call(const ServerProcess& s, const std::string& path, const json* body = nullptr) {
  httplib::Client cli(s.url());
  cli.set_read_timeout(120);
  auto res = body ? cli.Post(path, body->dump(), "application/json") : cli.Get(path);
  if (!res) return {0, json()};
  json j;
  try {
    j = json::parse(res->body);
  } catch (const std::exception&) {
    j = res->body;
  }
  return {res->status, j};
}

// The checkpoint and tokenizer loaded in this process: the reference the server is checked against.
struct InProcess {
  explicit InProcess(const fs::path& ckpt)
      : tok(packbench::data::Tokenizer::from_dir(ckpt.string())), model(load_pretrained(ckpt.string())) {
    EngineOptions eo;
    eo.batch_size = 1;
    eo.progress = false;
    for (int64_t id : model->config().eos_token_ids) eo.stop_token_ids.push_back(static_cast<int32_t>(id));
    engine = std::make_unique<Engine>(make_llama_backend(model), tok, eo);
  }
  // log P(ids[t] | ids[:t]) for t >= 1, straight from the model's forward.
  std::vector<double> token_logprobs(const std::vector<int32_t>& ids) {
    torch::NoGradGuard ng;
    std::vector<int64_t> v(ids.begin(), ids.end());
    const auto x = torch::tensor(v).view({1, -1});
    AttentionInputs attn;
    attn.position_ids = torch::arange(x.size(1), torch::kLong).view({1, -1});
    auto logits = model->forward(x, attn);
    auto lp = torch::log_softmax(logits[0].to(torch::kDouble), -1);
    std::vector<double> out;
    for (size_t t = 1; t < ids.size(); ++t) out.push_back(lp[t - 1][ids[t]].item<double>());
    return out;
  }
  std::shared_ptr<const packbench::data::Tokenizer> tok;
  LlamaForCausalLM model;
  std::unique_ptr<Engine> engine;
};

// Text as it comes back in JSON: bytes that are not valid UTF-8 (a random model emits them)
// become U+FFFD, as the server writes them.
std::string as_json_text(const std::string& s) {
  return json::parse(json(s).dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
}

class ServeCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(pt::temp_dir("serve_cli"));
    ckpt_ = new fs::path(pt::save_tiny_checkpoint((*dir_ / "checkpoint").string()));
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete ckpt_;
  }
  static fs::path* dir_;
  static fs::path* ckpt_;
};
fs::path* ServeCli::dir_ = nullptr;
fs::path* ServeCli::ckpt_ = nullptr;

TEST_F(ServeCli, EndpointsMatchTheModelInProcess) {
  ServerProcess s(*ckpt_, *dir_ / "endpoints.log", "--chat-template alpaca --model-name tiny");
  ASSERT_GT(s.port(), 0) << s.read_log();
  InProcess ref(*ckpt_);

  auto [hs, health] = call(s, "/health");
  EXPECT_EQ(hs, 200);
  EXPECT_EQ(health["status"], "ok");
  auto [ms, models] = call(s, "/v1/models");
  ASSERT_EQ(ms, 200);
  EXPECT_EQ(models["data"][0]["id"], "tiny");

  // Greedy completion = the engine's greedy generation of the same text.
  json req = {{"model", "tiny"}, {"prompt", "The cat sat"}, {"max_tokens", 12}, {"temperature", 0}};
  auto [cs, comp] = call(s, "/v1/completions", &req);
  ASSERT_EQ(cs, 200) << comp.dump();
  const std::string want = ref.engine->generate_until({{"The cat sat", {}, 12}}).at(0);
  EXPECT_EQ(comp["choices"][0]["text"], as_json_text(want));
  EXPECT_EQ(comp["usage"]["prompt_tokens"], ref.engine->encode_context("The cat sat").size());

  // A stop string cuts the text before it, as generate_until does.
  std::string stop;
  for (size_t i = 2; i < want.size() && stop.empty(); ++i)
    if (std::isalnum(static_cast<unsigned char>(want[i]))) stop = want.substr(i, 1);
  if (!stop.empty()) {
    req["stop"] = json::array({stop});
    auto [ss, stopped] = call(s, "/v1/completions", &req);
    ASSERT_EQ(ss, 200);
    EXPECT_EQ(stopped["choices"][0]["text"], as_json_text(ref.engine->generate_until({{"The cat sat", {stop}, 12}}).at(0)));
    EXPECT_EQ(stopped["choices"][0]["finish_reason"], "stop");
  }

  // echo + logprobs over token ids (what lm-eval's local-completions sends): every prompt
  // token's log-probability, as the model gives it in-process.
  const std::vector<int32_t> ids = ref.engine->encode_context("Hello world, hello there");
  json echo = {{"prompt", ids}, {"max_tokens", 0}, {"echo", true}, {"logprobs", 2}};
  auto [es, e] = call(s, "/v1/completions", &echo);
  ASSERT_EQ(es, 200) << e.dump();
  const auto& lp = e["choices"][0]["logprobs"];
  const auto want_lp = ref.token_logprobs(ids);
  ASSERT_EQ(lp["token_logprobs"].size(), ids.size());
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());
  for (size_t t = 1; t < ids.size(); ++t) {
    EXPECT_NEAR(lp["token_logprobs"][t].get<double>(), want_lp[t - 1], 1e-5) << t;
    // Two ids that decode to the same text share one key, as in OpenAI's format.
    ASSERT_GE(lp["top_logprobs"][t].size(), 1u);
    ASSERT_LE(lp["top_logprobs"][t].size(), 2u);
    double best = -1e9;
    for (auto& [k, v] : lp["top_logprobs"][t].items()) best = std::max(best, v.get<double>());
    EXPECT_GE(best + 1e-6, lp["token_logprobs"][t].get<double>());
  }

  // Chat: the alpaca template's rendering of one user turn, then greedy generation.
  json chat = {{"messages", json::array({{{"role", "user"}, {"content", "Say hi"}}})}, {"max_tokens", 6},
               {"temperature", 0}};
  auto [chs, ch] = call(s, "/v1/chat/completions", &chat);
  ASSERT_EQ(chs, 200) << ch.dump();
  EXPECT_EQ(ch["choices"][0]["message"]["role"], "assistant");
  EngineOptions eo;
  eo.chat_template = "alpaca";
  eo.batch_size = 1;
  eo.progress = false;
  for (int64_t id : ref.model->config().eos_token_ids) eo.stop_token_ids.push_back(static_cast<int32_t>(id));
  Engine chat_engine(make_llama_backend(ref.model), ref.tok, eo);
  EXPECT_EQ(ch["choices"][0]["message"]["content"], as_json_text(chat_engine.generate_until({{"Say hi", {}, 6}}).at(0)));

  EXPECT_EQ(s.stop(), 0);
  EXPECT_THAT(s.read_log(), HasSubstr("serve: stopped"));
}

TEST_F(ServeCli, BadRequestsGetOpenAIErrors) {
  ServerProcess s(*ckpt_, *dir_ / "errors.log", "--max-length 64");
  ASSERT_GT(s.port(), 0) << s.read_log();
  auto expect_error = [&](const std::string& path, const std::string& raw, int status, const std::string& words) {
    httplib::Client cli(s.url());
    auto res = cli.Post(path, raw, "application/json");
    ASSERT_TRUE(res) << raw;
    EXPECT_EQ(res->status, status) << raw << " -> " << res->body;
    json j = json::parse(res->body);
    ASSERT_TRUE(j.contains("error")) << res->body;
    EXPECT_THAT(j["error"]["message"].get<std::string>(), HasSubstr(words)) << raw;
    EXPECT_TRUE(j["error"].contains("type"));
  };
  expect_error("/v1/completions", "{not json", 400, "not valid JSON");
  expect_error("/v1/completions", "[1,2]", 400, "JSON object");
  expect_error("/v1/completions", R"({"max_tokens":3})", 400, "'prompt' is required");
  expect_error("/v1/completions", R"({"prompt":"x","max_tokens":-1})", 400, "max_tokens");
  expect_error("/v1/completions", R"({"prompt":"x","temperature":"hot"})", 400, "temperature");
  expect_error("/v1/completions", R"({"prompt":[1,99999],"max_tokens":1})", 400, "outside the vocabulary");
  expect_error("/v1/completions", R"({"prompt":"x","model":"other"})", 404, "does not exist");
  // Oversized prompt: refused before the model runs.
  expect_error("/v1/completions", json{{"prompt", std::string(2000, 'a')}, {"max_tokens", 1}}.dump(), 400,
               "maximum context length is 64");
  expect_error("/v1/chat/completions", R"({"messages":[{"role":"user","content":"hi"}]})", 400, "no chat template");
  expect_error("/v1/nosuch", "{}", 404, "no route");
  // The server is still healthy afterwards.
  auto [hs, health] = call(s, "/health");
  EXPECT_EQ(hs, 200);
  EXPECT_EQ(s.stop(), 0);
}

TEST_F(ServeCli, ConcurrentRequestsShareBatchesAndGetTheirOwnAnswers) {
  ServerProcess s(*ckpt_, *dir_ / "concurrent.log", "--batch-size 4");
  ASSERT_GT(s.port(), 0) << s.read_log();
  const std::vector<std::string> prompts = {"one", "two two", "three three three", "four", "five five", "six"};
  auto complete = [&](const std::string& p) {
    json req = {{"prompt", p}, {"max_tokens", 10}, {"temperature", 0}};
    auto [st, j] = call(s, "/v1/completions", &req);
    return st == 200 ? j["choices"][0]["text"].get<std::string>() : "HTTP " + std::to_string(st);
  };
  std::vector<std::string> alone;
  for (const auto& p : prompts) alone.push_back(complete(p));
  // A long request keeps the engine busy while the others arrive: they queue, and the engine's
  // next call takes them together.
  std::thread busy([&] {
    json req = {{"prompt", "busy"}, {"max_tokens", 3000}, {"temperature", 0}};
    call(s, "/v1/completions", &req);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  std::vector<std::string> together(prompts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i) threads.emplace_back([&, i] { together[i] = complete(prompts[i]); });
  for (auto& t : threads) t.join();
  busy.join();
  EXPECT_EQ(together, alone);
  auto [hs, health] = call(s, "/health");
  ASSERT_EQ(hs, 200);
  EXPECT_GE(health["engine"]["max_requests_per_call"].get<int64_t>(), 2) << health.dump();
  EXPECT_EQ(s.stop(), 0);
}

// Sends a streaming request over a plain socket, reads until the first event, and hangs up.
bool stream_then_hang_up(int port, const std::string& body) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return false;
  }
  const std::string req = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string got;
  char buf[4096];
  while (got.find("data: ") == std::string::npos) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return got.find("data: ") != std::string::npos;
}

TEST_F(ServeCli, StreamingClientThatHangsUpIsCancelled) {
  ServerProcess s(*ckpt_, *dir_ / "hangup.log");
  ASSERT_GT(s.port(), 0) << s.read_log();
  // Streamed deltas put together are the non-streamed text.
  json req = {{"prompt", "The cat"}, {"max_tokens", 40}, {"temperature", 0}};
  auto [cs, whole] = call(s, "/v1/completions", &req);
  ASSERT_EQ(cs, 200);
  httplib::Client cli(s.url());
  req["stream"] = true;
  auto res = cli.Post("/v1/completions", req.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/event-stream");
  std::string streamed, finish;
  int events = 0;
  std::istringstream lines(res->body);
  std::string line;
  bool done = false;
  while (std::getline(lines, line)) {
    if (line.rfind("data: ", 0) != 0) continue;
    if (line == "data: [DONE]") {
      done = true;
      continue;
    }
    json e = json::parse(line.substr(6));
    streamed += e["choices"][0]["text"].get<std::string>();
    if (!e["choices"][0]["finish_reason"].is_null()) finish = e["choices"][0]["finish_reason"];
    ++events;
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(streamed, whole["choices"][0]["text"]);
  EXPECT_EQ(finish, whole["choices"][0]["finish_reason"]);
  // At least one delta and the closing event. How many deltas a short generation gives depends on
  // how fast the engine runs ahead of the writer (it sends what has come since its last event);
  // that events go out while the model still generates is shown below, by a client that hangs up
  // after the first one.
  EXPECT_GE(events, 2);

  // A long generation whose client hangs up after the first event stops at its next token.
  ASSERT_TRUE(stream_then_hang_up(s.port(), json{{"prompt", "The cat"}, {"max_tokens", 4000}, {"temperature", 0},
                                                 {"stream", true}, {"echo", true}}.dump()));
  int64_t cancelled = 0;
  for (int i = 0; i < 100 && cancelled == 0; ++i) {
    auto [hs, h] = call(s, "/health");
    cancelled = hs == 200 ? h["engine"]["cancelled"].get<int64_t>() : 0;
    if (cancelled == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(cancelled, 1);
  auto [again, j] = call(s, "/v1/completions", &req);
  EXPECT_EQ(again, 200);
  EXPECT_EQ(s.stop(), 0);
}

// A request written over a plain socket, left open: the test decides when its client hangs up.
class RawRequest {
 public:
  RawRequest(int port, const std::string& path, const std::string& body) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      hang_up();
      return;
    }
    send_request(path, body);
  }
  ~RawRequest() { hang_up(); }
  bool connected() const { return fd_ >= 0; }
  // Writes one more request on the same connection (keep-alive).
  bool send_request(const std::string& path, const std::string& body) {
    const std::string req = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return fd_ >= 0 && send(fd_, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
  }
  // Reads one response with a Content-Length body: {status line and headers, body}.
  std::pair<std::string, std::string> read_response() {
    while (buf_.find("\r\n\r\n") == std::string::npos && fill()) {
    }
    const size_t end = buf_.find("\r\n\r\n");
    if (end == std::string::npos) return {buf_, ""};
    const std::string head = buf_.substr(0, end + 2);
    std::smatch m;
    size_t length = 0;
    if (std::regex_search(head, m, std::regex("\r\nContent-Length: (\\d+)\r\n", std::regex::icase)))
      length = std::stoul(m[1]);
    while (buf_.size() < end + 4 + length && fill()) {
    }
    std::string body = buf_.substr(end + 4, length);
    buf_.erase(0, std::min(buf_.size(), end + 4 + length));
    return {head, body};
  }
  void hang_up() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  bool fill() {
    char b[4096];
    const ssize_t n = fd_ >= 0 ? recv(fd_, b, sizeof b, 0) : -1;
    if (n <= 0) return false;
    buf_.append(b, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  std::string buf_;
};

// The server's engine counters, asked until `ok` holds or `seconds` pass; the last ones seen.
json wait_for_engine(const ServerProcess& s, const std::function<bool(const json&)>& ok, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  json engine;
  for (;;) {
    auto [hs, h] = call(s, "/health");
    if (hs == 200) engine = h["engine"];
    if ((hs == 200 && ok(engine)) || std::chrono::steady_clock::now() > until) return engine;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int64_t active(const json& engine) { return engine.value("active_requests", int64_t{-1}); }
int64_t cancelled(const json& engine) { return engine.value("cancelled", int64_t{-1}); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST_F(ServeCli, NonStreamingClientsThatHangUpAreCancelled) {
  // The suite's checkpoint (seed 5) ends an alpaca chat reply after 3 tokens; this one (seed 7)
  // generates to the end of its window, for chat as for plain completions, and its window of 8k
  // positions makes a full generation take seconds.
  auto config = pt::tiny_llama_config();
  config.max_position_embeddings = 8192;
  const fs::path ckpt = pt::save_tiny_checkpoint((*dir_ / "checkpoint_8k").string(), config, 7);
  ServerProcess s(ckpt, *dir_ / "hangup_plain.log", "--chat-template alpaca");
  ASSERT_GT(s.port(), 0) << s.read_log();
  const json shortreq = {{"prompt", "The cat"}, {"max_tokens", 12}, {"temperature", 0}};
  auto [s0, before] = call(s, "/v1/completions", &shortreq);
  ASSERT_EQ(s0, 200) << before.dump();
  // What a full 8000-token generation costs here: the bound a hang-up must beat by far.
  const json longreq = {{"prompt", "The cat"}, {"max_tokens", 8000}, {"temperature", 0}};
  const json longchat = {{"messages", json::array({{{"role", "user"}, {"content", "Say hi"}}})},
                         {"temperature", 0}};  // max_tokens: the rest of the window
  auto t0 = std::chrono::steady_clock::now();
  auto [sf, full] = call(s, "/v1/completions", &longreq);
  const double full_seconds = seconds_since(t0);
  ASSERT_EQ(sf, 200) << full.dump();
  ASSERT_EQ(full["choices"][0]["finish_reason"], "length") << "the tiny model stopped early; the test needs a long run";
  ASSERT_EQ(cancelled(wait_for_engine(s, [](const json&) { return true; }, 0)), 0);

  // A running completion whose client hangs up ends at its next token: the engine is idle again
  // long before the generation could have finished, with one row counted cancelled.
  {
    RawRequest r(s.port(), "/v1/completions", longreq.dump());
    ASSERT_TRUE(r.connected());
    json running = wait_for_engine(s, [](const json& e) { return active(e) == 1; }, 10);
    ASSERT_EQ(active(running), 1) << running.dump() << " full " << full_seconds << " s\n" << s.read_log();
    t0 = std::chrono::steady_clock::now();
    r.hang_up();
  }
  json e = wait_for_engine(s, [](const json& e) { return active(e) == 0; }, 10);
  const double freed_after = seconds_since(t0);
  EXPECT_EQ(active(e), 0) << e.dump();
  EXPECT_EQ(cancelled(e), 1) << e.dump() << " (a full generation takes " << full_seconds << " s)";
  EXPECT_LT(freed_after, std::max(1.0, full_seconds / 4)) << "a full generation takes " << full_seconds << " s";

  // A running chat completion, with a completion queued behind it: the queued one's client hangs
  // up first and its job leaves the queue without running; then the chat's client hangs up.
  {
    RawRequest chat(s.port(), "/v1/chat/completions", longchat.dump());
    ASSERT_TRUE(chat.connected());
    ASSERT_EQ(active(wait_for_engine(s, [](const json& e) { return active(e) == 1; }, 10)), 1);
    RawRequest queued(s.port(), "/v1/completions", longreq.dump());
    ASSERT_TRUE(queued.connected());
    ASSERT_EQ(active(wait_for_engine(s, [](const json& e) { return active(e) == 2; }, 10)), 2);
    queued.hang_up();
    e = wait_for_engine(s, [](const json& e) { return active(e) == 1 && cancelled(e) == 2; }, 10);
    EXPECT_EQ(active(e), 1) << e.dump();
    EXPECT_EQ(cancelled(e), 2) << e.dump();
    t0 = std::chrono::steady_clock::now();
    chat.hang_up();
    e = wait_for_engine(s, [](const json& e) { return active(e) == 0; }, 10);
    EXPECT_EQ(active(e), 0) << e.dump();
    EXPECT_EQ(cancelled(e), 3) << e.dump();
    EXPECT_LT(seconds_since(t0), std::max(1.0, full_seconds / 4)) << "a full generation takes " << full_seconds << " s";
  }

  // The server goes on serving, with the same answer as before.
  auto [s1, after] = call(s, "/v1/completions", &shortreq);
  ASSERT_EQ(s1, 200) << after.dump();
  EXPECT_EQ(after["choices"], before["choices"]);
  EXPECT_EQ(s.stop(), 0);
}

TEST_F(ServeCli, NonStreamingResponsesKeepTheirFraming) {
  // Clients that stay connected get what they always got: 200, a JSON body with its
  // Content-Length (not chunked), and the connection kept alive for the next request.
  ServerProcess s(*ckpt_, *dir_ / "framing.log", "--chat-template alpaca --model-name tiny");
  ASSERT_GT(s.port(), 0) << s.read_log();
  const json comp = {{"prompt", "The cat sat"}, {"max_tokens", 12}, {"temperature", 0}};
  const json chat = {{"messages", json::array({{{"role", "user"}, {"content", "Say hi"}}})}, {"max_tokens", 6},
                     {"temperature", 0}};
  const json echo = {{"prompt", "Hello world"}, {"max_tokens", 0}, {"echo", true}, {"logprobs", 1}};
  RawRequest r(s.port(), "/v1/completions", comp.dump());
  ASSERT_TRUE(r.connected());
  auto check = [&](const std::string& path, const json& req, std::pair<std::string, std::string> got) {
    const auto& [head, body] = got;
    EXPECT_EQ(head.substr(0, head.find("\r\n")), "HTTP/1.1 200 OK") << path;
    EXPECT_THAT(head, HasSubstr("\r\nContent-Type: application/json\r\n")) << path;
    EXPECT_THAT(head, HasSubstr("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n")) << path;
    EXPECT_THAT(head, ::testing::Not(HasSubstr("chunked"))) << path;
    EXPECT_THAT(head, ::testing::Not(HasSubstr("Connection: close"))) << path;
    // The same JSON as through httplib's client, but for the request id and the clock.
    auto [st, want] = call(s, path, &req);
    ASSERT_EQ(st, 200) << path;
    json j = json::parse(body);
    for (auto* k : {"id", "created"}) {
      EXPECT_TRUE(j.contains(k)) << path;
      j.erase(k);
      want.erase(k);
    }
    EXPECT_EQ(j, want) << path;
  };
  check("/v1/completions", comp, r.read_response());
  ASSERT_TRUE(r.send_request("/v1/chat/completions", chat.dump()));
  check("/v1/chat/completions", chat, r.read_response());
  ASSERT_TRUE(r.send_request("/v1/completions", echo.dump()));
  check("/v1/completions", echo, r.read_response());
  r.hang_up();  // else stopping waits out the server's keep-alive timeout (5 s)
  const json engine = wait_for_engine(s, [](const json&) { return true; }, 0);
  EXPECT_EQ(cancelled(engine), 0) << engine.dump();
  EXPECT_EQ(active(engine), 0) << engine.dump();
  EXPECT_EQ(s.stop(), 0);
}

TEST_F(ServeCli, OfficialOpenAIClient) {
  PB_REQUIRE_VENV(python);
  if (pt::run_command(python + " -c 'import openai'") != 0)
    GTEST_SKIP() << "the openai package is not in packbench's Python environment";
  ServerProcess s(*ckpt_, *dir_ / "openai.log", "--chat-template alpaca --model-name tiny --max-length 512");
  ASSERT_GT(s.port(), 0) << s.read_log();
  std::string out;
  ASSERT_EQ(pt::run_command(python + " " + pt::source_dir() + "/tests/harness/openai_client_check.py " + s.url() +
                                "/v1 tiny 2>&1",
                            &out),
            0)
      << out;
  json j = json::parse(out.substr(out.find('{')));
  EXPECT_EQ(j["models"], json::array({"tiny"}));

  // The same requests through packbench's own HTTP client must give the same answers.
  json req = {{"model", "tiny"}, {"prompt", "Hello world"}, {"max_tokens", 6}, {"temperature", 0}};
  auto [cs, comp] = call(s, "/v1/completions", &req);
  ASSERT_EQ(cs, 200);
  EXPECT_EQ(j["completion"]["text"], comp["choices"][0]["text"]);
  EXPECT_EQ(j["completion"]["completion_tokens"], comp["usage"]["completion_tokens"]);
  EXPECT_EQ(j["completion_stream"], comp["choices"][0]["text"]);

  InProcess ref(*ckpt_);
  const auto ids = ref.engine->encode_context("Hello world");
  const auto want = ref.token_logprobs(ids);
  const auto& echo = j["echo"][0];
  EXPECT_EQ(echo["text"], "Hello world");
  ASSERT_EQ(echo["token_logprobs"].size(), ids.size());
  for (size_t t = 1; t < ids.size(); ++t) EXPECT_NEAR(echo["token_logprobs"][t].get<double>(), want[t - 1], 1e-5);
  EXPECT_EQ(j["echo"][1]["text"], "a b");

  json chat = {{"model", "tiny"}, {"messages", json::array({{{"role", "user"}, {"content", "Say hi"}}})},
               {"max_tokens", 6}, {"temperature", 0}};
  auto [chs, ch] = call(s, "/v1/chat/completions", &chat);
  ASSERT_EQ(chs, 200);
  EXPECT_EQ(j["chat"]["content"], ch["choices"][0]["message"]["content"]);
  EXPECT_EQ(j["chat"]["role"], "assistant");
  EXPECT_EQ(j["chat_stream"], ch["choices"][0]["message"]["content"]);
  EXPECT_EQ(j["seeded_equal"], true);

  EXPECT_EQ(j["errors"]["too_long"]["status"], 400);
  EXPECT_EQ(j["errors"]["too_long"]["class"], "BadRequestError");
  EXPECT_EQ(j["errors"]["bad_model"]["status"], 404);
  EXPECT_EQ(j["errors"]["bad_temperature"]["status"], 400);
  EXPECT_EQ(s.stop(), 0);
}

TEST_F(ServeCli, EvalThroughTheServerEqualsInProcess) {
  const fs::path root = fs::path(pt::fixture_benchmarks((*dir_ / "eval").string(), {"mmlu", "gsm8k", "bbh"}));
  const std::string common = " --tasks mmlu,gsm8k,bbh --limit 3 --batch-size 2 --max-new-tokens 8 --threads 1 --data-root " +
                             root.string();
  std::string log;
  const fs::path local = *dir_ / "eval" / "local", remote = *dir_ / "eval" / "remote";
  ASSERT_EQ(pt::run_command("PACKBENCH_PROGRESS=0 " + pt::packbench_bin() + " eval --checkpoint " + ckpt_->string() +
                                common + " --out " + local.string(),
                            &log),
            0)
      << log;
  ServerProcess s(*ckpt_, *dir_ / "eval.log");
  ASSERT_GT(s.port(), 0) << s.read_log();
  ASSERT_EQ(pt::run_command("PACKBENCH_PROGRESS=0 " + pt::packbench_bin() + " eval --model-url " + s.url() + "/v1" +
                                common + " --concurrency 3 --out " + remote.string(),
                            &log),
            0)
      << log;
  auto a = json::parse(packbench::read_file((local / "results.json").string()));
  auto b = json::parse(packbench::read_file((remote / "results.json").string()));
  EXPECT_EQ(a["results"], b["results"]);
  EXPECT_GT(b["timings"]["mmlu"]["http_requests"].get<int64_t>(), 0);
  EXPECT_GT(b["timings"]["gsm8k"]["generated_tokens"].get<int64_t>(), 0);
  // Per document: the same generations, the same log-likelihoods (to float rounding).
  for (const char* task : {"mmlu", "gsm8k", "bbh"}) {
    std::ifstream fa(local / task / "samples.jsonl"), fb(remote / task / "samples.jsonl");
    std::string la, lb;
    int n = 0;
    while (std::getline(fa, la)) {
      ASSERT_TRUE(std::getline(fb, lb)) << task;
      json x = json::parse(la), y = json::parse(lb);
      ASSERT_EQ(x["resps"].size(), y["resps"].size()) << task;
      for (size_t i = 0; i < x["resps"].size(); ++i) {
        if (x["resps"][i].is_array() && x["resps"][i].size() == 2 && x["resps"][i][0].is_number()) {
          EXPECT_NEAR(x["resps"][i][0].get<double>(), y["resps"][i][0].get<double>(), 1e-4) << task << " doc " << n;
          EXPECT_EQ(x["resps"][i][1], y["resps"][i][1]) << task << " doc " << n;
        } else {
          EXPECT_EQ(x["resps"][i], y["resps"][i]) << task << " doc " << n;
        }
      }
      ++n;
    }
    EXPECT_GT(n, 0) << task;
  }
  EXPECT_EQ(s.stop(), 0);

  // With a chat template: generation through /v1/chat/completions and the server's template
  // equals the engine's rendering of each context as one user turn.
  ServerProcess chat(*ckpt_, *dir_ / "eval_chat.log", "--chat-template alpaca");
  ASSERT_GT(chat.port(), 0) << chat.read_log();
  const std::string gen = " --tasks gsm8k --limit 3 --batch-size 2 --max-new-tokens 8 --threads 1 --data-root " + root.string();
  const fs::path local_chat = *dir_ / "eval" / "local_chat", remote_chat = *dir_ / "eval" / "remote_chat";
  ASSERT_EQ(pt::run_command("PACKBENCH_PROGRESS=0 " + pt::packbench_bin() + " eval --checkpoint " + ckpt_->string() +
                                gen + " --chat-template alpaca --out " + local_chat.string(), &log), 0) << log;
  ASSERT_EQ(pt::run_command("PACKBENCH_PROGRESS=0 " + pt::packbench_bin() + " eval --model-url " + chat.url() + gen +
                                " --chat-template on --out " + remote_chat.string(), &log), 0) << log;
  EXPECT_EQ(packbench::read_file((local_chat / "gsm8k" / "samples.jsonl").string()),
            packbench::read_file((remote_chat / "gsm8k" / "samples.jsonl").string()));
  // Log-likelihood has no chat endpoint: a clear error.
  EXPECT_NE(pt::run_command("PACKBENCH_PROGRESS=0 " + pt::packbench_bin() + " eval --model-url " + chat.url() +
                                " --tasks mmlu --limit 1 --chat-template on --data-root " + root.string() + " --out " +
                                (*dir_ / "eval" / "x").string(), &log), 0);
  EXPECT_THAT(log, HasSubstr("the chat API has none"));
}

// A loopback relay in front of the real server that answers the first POSTs with 503 and 429
// (an overloaded server), then passes everything through.
class FlakyRelay {
 public:
  FlakyRelay(const std::string& upstream, int refuse) : upstream_(upstream), refuse_(refuse) {
    auto pass = [this](const httplib::Request& req, httplib::Response& res) {
      if (req.method == "POST" && refused_ < refuse_) {
        const int n = ++refused_;
        res.status = n % 2 ? 503 : 429;
        res.set_content(R"({"error":{"message":"busy","type":"server_error"}})", "application/json");
        return;
      }
      httplib::Client cli(upstream_);
      cli.set_read_timeout(120);
      auto r = req.method == "POST" ? cli.Post(req.path, req.body, "application/json") : cli.Get(req.path);
      res.status = r ? r->status : 502;
      res.set_content(r ? r->body : "{}", "application/json");
    };
    svr_.Get(R"(/v1/.*)", pass);
    svr_.Post(R"(/v1/.*)", pass);
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
  }
  ~FlakyRelay() {
    svr_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int refused() const { return refused_; }

 private:
  std::string upstream_;
  int refuse_;
  std::atomic<int> refused_{0};
  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(ServeCli, EvalRetriesBusyServersWithBackoff) {
  const fs::path root = fs::path(pt::fixture_benchmarks((*dir_ / "retry").string(), {"mmlu", "gsm8k", "bbh"}));
  ServerProcess s(*ckpt_, *dir_ / "retry.log");
  ASSERT_GT(s.port(), 0) << s.read_log();
  const std::string common = " --tasks mmlu,gsm8k --limit 2 --batch-size 2 --max-new-tokens 4 --concurrency 1 --data-root " +
                             root.string();
  std::string log;
  const fs::path direct = *dir_ / "retry" / "direct", relayed = *dir_ / "retry" / "relayed";
  ASSERT_EQ(pt::run_command("PACKBENCH_PROGRESS=0 " + pt::packbench_bin() + " eval --model-url " + s.url() + common +
                                " --out " + direct.string(), &log), 0) << log;
  FlakyRelay relay(s.url(), 3);
  ASSERT_EQ(pt::run_command("PACKBENCH_PROGRESS=0 " + pt::packbench_bin() + " eval --model-url " + relay.url() +
                                common + " --max-retries 3 --out " + relayed.string(), &log), 0) << log;
  EXPECT_EQ(relay.refused(), 3);
  auto a = json::parse(packbench::read_file((direct / "results.json").string()));
  auto b = json::parse(packbench::read_file((relayed / "results.json").string()));
  EXPECT_EQ(a["results"], b["results"]);
  EXPECT_EQ(b["timings"]["mmlu"]["retries"].get<int64_t>() + b["timings"]["gsm8k"]["retries"].get<int64_t>(), 3);
  // More refusals in a row than retries: the error names the status and the count.
  FlakyRelay stubborn(s.url(), 100);
  EXPECT_NE(pt::run_command("PACKBENCH_PROGRESS=0 " + pt::packbench_bin() + " eval --model-url " + stubborn.url() +
                                common + " --max-retries 1 --out " + (*dir_ / "retry" / "x").string(), &log), 0);
  EXPECT_THAT(log, HasSubstr("busy (after 1 retries)"));
}

TEST_F(ServeCli, EvalThroughABadServerIsAClearError) {
  std::string log;
  const std::string base = "PACKBENCH_PROGRESS=0 " + pt::packbench_bin() + " eval --tasks gsm8k --limit 1 --out " +
                           (*dir_ / "bad").string();
  // Nothing listens there: retried with backoff, then a clear error.
  EXPECT_NE(pt::run_command(base + " --model-url http://127.0.0.1:1/v1 --max-retries 2", &log), 0);
  EXPECT_THAT(log, HasSubstr("cannot reach"));
  EXPECT_THAT(log, HasSubstr("after 2 retries"));
  EXPECT_NE(pt::run_command(base + " --model-url ftp://x", &log), 0);
  EXPECT_THAT(log, HasSubstr("--model-url"));
  EXPECT_NE(pt::run_command(base + " --model-url http://127.0.0.1:1 --checkpoint " + ckpt_->string(), &log), 0);
  EXPECT_THAT(log, HasSubstr("exactly one of"));
  EXPECT_NE(pt::run_command(base + " --model-url http://127.0.0.1:1 --api-key-env PB_NO_SUCH_KEY_VAR", &log), 0);
  EXPECT_THAT(log, HasSubstr("PB_NO_SUCH_KEY_VAR"));
  // A 4xx is not retried: the server's message comes through.
  ServerProcess s(*ckpt_, *dir_ / "bad.log");
  ASSERT_GT(s.port(), 0) << s.read_log();
  EXPECT_NE(pt::run_command(base + " --model-url " + s.url() + " --model nosuch --data-root " +
                                (fs::path(pt::fixtures_dir()) / "evals").string(),
                            &log),
            0);
  EXPECT_THAT(log, HasSubstr("HTTP 404"));
  EXPECT_THAT(log, HasSubstr("'nosuch' does not exist"));
}

}  // namespace
