// packbench 'serve' subcommand: an OpenAI-compatible HTTP server over the in-process engine.
//
// The HTTP side is cpp-httplib (Debian's libcpp-httplib-dev): one thread per connection parses
// and validates a request, turns it into token ids and queues a job; one engine thread takes every
// job waiting, runs the greedy ones together in one batched generate() call (sampled ones run on
// their own, so that a seed alone decides what they draw), and hands the results back. A client
// that hangs up cancels its job: a streaming one when a write fails, a non-streaming one when the
// poll of its connection's socket, made while it waits for the engine, finds the peer closed.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>
#include <httplib.h>
#include <torch/torch.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "datasets/chat_template.h"
#include "core/error.h"
#include "core/paths.h"
#include "datasets/tokenizer.h"
#include "harness/client_connection.h"
#include "harness/commands.h"
#include "inference/engine.h"
#include "inference/engine_llama.h"
#include "inference/generate.h"
#include "trainers/model/pretrained.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace packbench::cli {
namespace {

struct ServeArgs {
  std::string checkpoint, host = "127.0.0.1", tokenizer, chat_template = "auto", system_prompt, dtype,
              device = "cpu", model_name;
  int port = 8000, batch_size = 8, threads = 0;
  int64_t max_length = 0;
  size_t max_body_bytes = 32 << 20;
};

// ---------------------------------------------------------------------------------------------
// Protocol: OpenAI-style errors and request fields
// ---------------------------------------------------------------------------------------------

// A request the server refuses: HTTP status, OpenAI error type and the offending parameter.
struct ApiError {
  int status;
  std::string message, type, param;
};

ApiError bad_request(const std::string& message, const std::string& param = "") {
  return {400, message, "invalid_request_error", param};
}

void send_error(httplib::Response& res, const ApiError& e) {
  json err = {{"message", e.message}, {"type", e.type}, {"code", nullptr}};
  err["param"] = e.param.empty() ? json(nullptr) : json(e.param);
  res.status = e.status;
  res.set_content(json{{"error", err}}.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_json(httplib::Response& res, const json& j) {
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

double number_field(const json& body, const char* key, double def, double lo, double hi) {
  if (!body.contains(key) || body[key].is_null()) return def;
  if (!body[key].is_number()) throw bad_request(std::string("'") + key + "' must be a number", key);
  const double v = body[key].get<double>();
  if (!(v >= lo && v <= hi))
    throw bad_request(fmt::format("'{}' must be between {} and {}, got {}", key, lo, hi, v), key);
  return v;
}

int64_t int_field(const json& body, const char* key, int64_t def, int64_t lo, int64_t hi) {
  if (!body.contains(key) || body[key].is_null()) return def;
  if (!body[key].is_number_integer()) throw bad_request(std::string("'") + key + "' must be an integer", key);
  const int64_t v = body[key].get<int64_t>();
  if (v < lo || v > hi) throw bad_request(fmt::format("'{}' must be between {} and {}, got {}", key, lo, hi, v), key);
  return v;
}

bool bool_field(const json& body, const char* key, bool def) {
  if (!body.contains(key) || body[key].is_null()) return def;
  if (!body[key].is_boolean()) throw bad_request(std::string("'") + key + "' must be true or false", key);
  return body[key].get<bool>();
}

std::vector<std::string> stop_field(const json& body) {
  std::vector<std::string> out;
  if (!body.contains("stop") || body["stop"].is_null()) return out;
  const auto& s = body["stop"];
  if (s.is_string()) return {s.get<std::string>()};
  if (!s.is_array()) throw bad_request("'stop' must be a string or an array of strings", "stop");
  for (const auto& x : s) {
    if (!x.is_string()) throw bad_request("'stop' must be a string or an array of strings", "stop");
    out.push_back(x.get<std::string>());
  }
  return out;
}

json parse_body(const httplib::Request& req) {
  try {
    json body = json::parse(req.body);
    if (!body.is_object()) throw bad_request("the request body must be a JSON object");
    return body;
  } catch (const json::exception& e) {
    throw bad_request(std::string("the request body is not valid JSON: ") + e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// The engine thread: jobs in, batched generation and prompt scoring out
// ---------------------------------------------------------------------------------------------

// Per-token log-probabilities of a sequence under the model (teacher forcing).
struct TokenScores {
  std::vector<double> logprob;                             // [T]; position 0 has none
  std::vector<std::vector<std::pair<int32_t, double>>> top;  // [T]: the k most likely ids there
};

struct Job {
  // Generation: inputs and the sampling they share.
  std::vector<train::GenerationInput> inputs;
  train::SamplingOptions sampling;
  std::vector<train::GenerationOutput> outputs;
  // Scoring: whole sequences, with the top_k alternatives at each position.
  std::vector<std::vector<int32_t>> score;
  int top_k = 0;
  std::vector<TokenScores> scores;

  // Streaming: every kept token as it is sampled (index into `inputs`); false cancels that row.
  std::function<bool(size_t, int32_t)> on_token;
  std::function<void()> on_done;  // called once the job is finished (outputs or error set)
  // Set when the client has gone: a job not started yet is dropped, a running one's rows end at
  // their next token (FinishReason::kCancelled), and scoring is skipped.
  std::atomic<bool> cancelled{false};

  std::exception_ptr error;
  bool done = false;
};

class Scheduler {
 public:
  Scheduler(std::shared_ptr<train::DecoderBackend> model, std::shared_ptr<const data::Tokenizer> tok,
            std::vector<int32_t> stop_ids, int batch_size, int threads, int32_t pad_id)
      : model_(std::move(model)), tok_(std::move(tok)), stop_ids_(std::move(stop_ids)),
        batch_size_(batch_size), threads_(threads), pad_id_(pad_id), worker_([this] { loop(); }) {}
  ~Scheduler() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  // Queues a job and returns at once.
  void submit(const std::shared_ptr<Job>& job) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(job);
    ++active_;
    cv_.notify_all();
  }
  // Queues a job and waits for it; rethrows what the engine threw. While it waits it asks
  // `client_gone` (if given) every kHangUpCheck: once that says yes, the job is cancelled (taken
  // out of the queue if the engine has not started it; else its rows end at their next token) and
  // run() returns false when the engine has let go of it. True: the job ran to its end.
  bool run(const std::shared_ptr<Job>& job, const std::function<bool()>& client_gone = nullptr) {
    submit(job);
    std::unique_lock<std::mutex> lock(mu_);
    while (!job->done) {
      if (!client_gone || job->cancelled) {
        done_cv_.wait(lock, [&] { return job->done; });
        break;
      }
      if (done_cv_.wait_for(lock, kHangUpCheck, [&] { return job->done; })) break;
      lock.unlock();
      const bool gone = client_gone();
      lock.lock();
      if (!gone || job->done) continue;
      job->cancelled = true;
      auto queued = std::find(queue_.begin(), queue_.end(), job);
      if (queued != queue_.end()) {
        queue_.erase(queued);
        drop(*job);
        job->done = true;
        --active_;
      }
    }
    if (job->error) std::rethrow_exception(job->error);
    return !job->cancelled;
  }

  // Engine activity, for /health: generate() calls, the most requests one call held, rows
  // cancelled because their client went away, and jobs queued or running now.
  json counters() const {
    return {{"generate_calls", batches_.load()}, {"max_requests_per_call", max_batch_requests_.load()},
            {"cancelled", cancelled_.load()}, {"active_requests", active_.load()}};
  }

  // How often a waiting non-streaming request looks whether its client is still there.
  static constexpr std::chrono::milliseconds kHangUpCheck{50};

 private:
  void loop() {
    at::set_num_threads(threads_);
    torch::NoGradGuard no_grad;
    for (;;) {
      std::vector<std::shared_ptr<Job>> jobs;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        jobs.assign(queue_.begin(), queue_.end());
        queue_.clear();
      }
      process(jobs);
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& j : jobs) j->done = true;
        active_ -= static_cast<int64_t>(jobs.size());
      }
      done_cv_.notify_all();
      for (auto& j : jobs)
        if (j->on_done) j->on_done();
    }
  }

  // A job whose client left before it started: every row ends cancelled, with no tokens.
  void drop(Job& j) {
    j.outputs.assign(j.inputs.size(), train::GenerationOutput{});
    for (auto& o : j.outputs) o.finish = train::FinishReason::kCancelled;
    cancelled_ += static_cast<int64_t>(j.inputs.size());
  }

  // The job's own on_token, behind its cancellation flag.
  static bool keep_going(Job& j, size_t i, int32_t t) {
    if (j.cancelled) return false;
    return j.on_token ? j.on_token(i, t) : true;
  }

  void process(std::vector<std::shared_ptr<Job>>& jobs) {
    // Greedy generation of every waiting request in one batched call.
    std::vector<std::shared_ptr<Job>> greedy;
    for (auto& j : jobs) {
      if (j->inputs.empty() || j->sampling.temperature > 0.0) continue;
      if (j->cancelled) drop(*j);
      else greedy.push_back(j);
    }
    if (!greedy.empty()) {
      try {
        std::vector<train::GenerationInput> all;
        std::vector<size_t> first;  // where each job's inputs start in `all`
        for (auto& j : greedy) {
          first.push_back(all.size());
          all.insert(all.end(), j->inputs.begin(), j->inputs.end());
        }
        auto on_token = [&](size_t i, int32_t t) {
          const size_t k = std::upper_bound(first.begin(), first.end(), i) - first.begin() - 1;
          return keep_going(*greedy[k], i - first[k], t);
        };
        auto outs = generate_sorted(all, greedy[0]->sampling, on_token);
        size_t k = 0;
        for (auto& j : greedy)
          for (size_t i = 0; i < j->inputs.size(); ++i) j->outputs.push_back(std::move(outs[k++]));
        ++batches_;
        max_batch_requests_ = std::max<int64_t>(max_batch_requests_, static_cast<int64_t>(greedy.size()));
      } catch (...) {
        for (auto& j : greedy) j->error = std::current_exception();
      }
    }
    for (auto& j : jobs) {
      try {
        if (!j->inputs.empty() && j->sampling.temperature > 0.0) {
          if (j->cancelled) {
            drop(*j);
          } else {
            Job& job = *j;
            j->outputs = generate_sorted(j->inputs, j->sampling,
                                         [&job](size_t i, int32_t t) { return keep_going(job, i, t); });
            ++batches_;
          }
        }
        if (!j->cancelled)
          for (const auto& seq : j->score) j->scores.push_back(score(seq, j->top_k));
      } catch (...) {
        j->error = std::current_exception();
      }
    }
  }

  // Longest prompts first, as the in-process engine orders them; outputs in input order.
  std::vector<train::GenerationOutput> generate_sorted(const std::vector<train::GenerationInput>& inputs,
                                                       const train::SamplingOptions& sampling,
                                                       const std::function<bool(size_t, int32_t)>& on_token) {
    std::vector<size_t> order(inputs.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return inputs[a].prompt.size() > inputs[b].prompt.size(); });
    std::vector<train::GenerationInput> sorted;
    for (size_t i : order) sorted.push_back(inputs[i]);
    train::GenerateOptions go;
    go.sampling = sampling;
    go.stop_token_ids = stop_ids_;
    go.batch_size = batch_size_;
    go.pad_id = pad_id_;
    if (on_token) go.on_token = [&](size_t i, int32_t t) { return on_token(order[i], t); };
    auto outs = train::generate(*model_, tok_.get(), sorted, go);
    for (const auto& o : outs)
      if (o.finish == train::FinishReason::kCancelled) ++cancelled_;
    std::vector<train::GenerationOutput> back(inputs.size());
    for (size_t k = 0; k < order.size(); ++k) back[order[k]] = std::move(outs[k]);
    return back;
  }

  TokenScores score(const std::vector<int32_t>& ids, int top_k) {
    const int64_t T = static_cast<int64_t>(ids.size());
    std::vector<int64_t> ids64(ids.begin(), ids.end());
    const auto dev = model_->device();
    auto x = torch::tensor(ids64, torch::kLong).view({1, T}).to(dev);
    auto pos = torch::arange(T, torch::kLong).view({1, T}).to(dev);
    auto mask = torch::ones({1, T}, torch::kBool).to(dev);
    auto logits = model_->forward(x, pos, mask, nullptr, T);      // [1, T, V]
    auto lp = torch::log_softmax(logits[0].to(torch::kFloat), -1).to(torch::kCPU);  // [T, V]
    TokenScores s;
    s.logprob.assign(T, 0.0);
    s.top.resize(T);
    auto acc = lp.accessor<float, 2>();
    for (int64_t t = 1; t < T; ++t) s.logprob[t] = acc[t - 1][ids[t]];
    if (top_k > 0) {
      auto [vals, idx] = lp.topk(std::min<int64_t>(top_k, lp.size(1)), -1);
      auto va = vals.accessor<float, 2>();
      auto ia = idx.accessor<int64_t, 2>();
      for (int64_t t = 1; t < T; ++t)
        for (int64_t k = 0; k < vals.size(1); ++k)
          s.top[t].push_back({static_cast<int32_t>(ia[t - 1][k]), va[t - 1][k]});
    }
    return s;
  }

  std::shared_ptr<train::DecoderBackend> model_;
  std::shared_ptr<const data::Tokenizer> tok_;
  std::vector<int32_t> stop_ids_;
  int batch_size_, threads_;
  int32_t pad_id_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::atomic<int64_t> batches_{0}, max_batch_requests_{0}, cancelled_{0}, active_{0};
  std::thread worker_;  // last: starts once everything above is ready
};

// ---------------------------------------------------------------------------------------------
// The server: endpoints over the scheduler
// ---------------------------------------------------------------------------------------------

class Server {
 public:
  Server(const ServeArgs& a, std::shared_ptr<const data::Tokenizer> tok, std::shared_ptr<train::DecoderBackend> model,
         std::vector<int32_t> eos_ids, const std::string& chat_template, int threads)
      : args_(a), tok_(std::move(tok)) {
    train::EngineOptions eo;
    eo.stop_token_ids = eos_ids;
    eo.max_length = a.max_length;
    eo.progress = false;
    engine_ = std::make_unique<train::Engine>(model, tok_, eo);
    std::vector<int32_t> stops = engine_->stop_token_ids();
    if (!chat_template.empty()) {
      const auto& t = data::get_template(chat_template);
      template_ = std::make_unique<data::TemplateEncoder>(t, tok_);
      template_name_ = t.name;
      if (!t.eos_token.empty())
        if (auto id = tok_->token_to_id(t.eos_token)) chat_stop_ = *id;
    }
    if (chat_stop_ >= 0 && std::find(stops.begin(), stops.end(), chat_stop_) == stops.end())
      stops.push_back(chat_stop_);
    int32_t pad = 0;
    if (auto p = tok_->pad_id(); p && *p < model->vocab_size()) pad = *p;
    vocab_ = model->vocab_size();
    scheduler_ = std::make_unique<Scheduler>(model, tok_, stops, a.batch_size, threads, pad);
  }

  const std::string& model_name() const { return args_.model_name; }

  void routes(httplib::Server& svr) {
    svr.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, {{"status", "ok"}, {"engine", scheduler_->counters()}});
    });
    svr.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, {{"object", "list"},
                      {"data", json::array({{{"id", args_.model_name},
                                             {"object", "model"},
                                             {"created", created_},
                                             {"owned_by", "packbench"},
                                             {"max_model_len", engine_->max_length()}}})}});
    });
    svr.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(res, [&] { completions(req, res); });
    });
    svr.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(res, [&] { chat(req, res); });
    });
    svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;  // a handler already wrote an OpenAI error
      if (res.status == 404)
        send_error(res, {404, "no route " + req.method + " " + req.path, "invalid_request_error", ""});
      else if (res.status == 413)
        send_error(res, {413, "the request body is too large", "invalid_request_error", ""});
      else
        send_error(res, {res.status, "HTTP " + std::to_string(res.status), "invalid_request_error", ""});
    });
  }

 private:
  template <class F>
  void guarded(httplib::Response& res, F&& f) {
    try {
      f();
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const Error& e) {
      send_error(res, bad_request(e.what()));
    } catch (const std::exception& e) {
      send_error(res, {500, std::string("internal error: ") + e.what(), "server_error", ""});
    }
  }

  void check_model(const json& body) const {
    if (!body.contains("model") || body["model"].is_null()) return;
    if (!body["model"].is_string()) throw bad_request("'model' must be a string", "model");
    if (body["model"] != args_.model_name)
      throw ApiError{404, "the model '" + body["model"].get<std::string>() + "' does not exist; this server has '" +
                              args_.model_name + "'",
                     "invalid_request_error", "model"};
  }

  void check_ids(const std::vector<int32_t>& ids, const char* param) const {
    if (ids.empty()) throw bad_request("the prompt is empty", param);
    for (int32_t id : ids)
      if (id < 0 || id >= vocab_)
        throw bad_request(fmt::format("token id {} is outside the vocabulary of {}", id, vocab_), param);
  }

  // The prompt and the completion must fit the context window (checked before the model runs).
  void check_length(size_t prompt, int64_t max_tokens) const {
    const int64_t window = engine_->max_length();
    if (static_cast<int64_t>(prompt) + max_tokens > window)
      throw bad_request(fmt::format("this model's maximum context length is {} tokens; the request asks for {} "
                                    "({} in the prompt, {} for the completion)",
                                    window, static_cast<int64_t>(prompt) + max_tokens, prompt, max_tokens),
                        "max_tokens");
  }

  train::SamplingOptions sampling(const json& body) {
    train::SamplingOptions s;
    s.temperature = number_field(body, "temperature", 1.0, 0.0, 2.0);
    s.top_p = number_field(body, "top_p", 1.0, 0.0, 1.0);
    if (s.top_p <= 0.0) throw bad_request("'top_p' must be greater than 0", "top_p");
    s.seed = static_cast<uint64_t>(int_field(body, "seed", next_seed_++, INT64_MIN, INT64_MAX));
    const int64_t n = int_field(body, "n", 1, 1, 1);
    (void)n;
    return s;
  }

  std::string token_text(int32_t id) const { return tok_->decode({id}, false); }

  json logprobs_json(const TokenScores& s, const std::vector<int32_t>& ids, size_t from, size_t text_start) const {
    json tokens = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
    size_t offset = text_start;
    for (size_t t = from; t < ids.size(); ++t) {
      const std::string piece = token_text(ids[t]);
      tokens.push_back(piece);
      offsets.push_back(offset);
      offset += piece.size();
      if (t == 0) {
        lps.push_back(nullptr);
        tops.push_back(nullptr);
        continue;
      }
      lps.push_back(s.logprob[t]);
      json top = json::object();
      for (const auto& [id, v] : s.top[t]) {
        const std::string k = token_text(id);
        if (!top.contains(k)) top[k] = v;
      }
      tops.push_back(top);
    }
    return {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
  }

  // For a non-streaming request: whether its client has hung up, asked while the request waits for
  // the engine. cpp-httplib 0.11 gives a handler no socket, so the connection's socket is found by
  // the addresses the Request holds, now, while the connection is surely open (a reset one no
  // longer has a peer address). Null if it cannot be found: the request then runs to its end.
  static std::function<bool()> hang_up_check(const httplib::Request& req) {
    const int fd = find_connection_socket(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
    if (fd < 0) return nullptr;
    return [fd] { return peer_hung_up(fd); };
  }

  // The answer to a request whose client left while it waited (nginx's 499); nobody reads it,
  // except a client that only shut down its sending side.
  static ApiError client_left() {
    return {499, "the client closed its connection; the request was cancelled", "invalid_request_error", ""};
  }

  static const char* finish_name(train::FinishReason r) {
    return r == train::FinishReason::kLength || r == train::FinishReason::kCancelled ? "length" : "stop";
  }

  void completions(const httplib::Request& req, httplib::Response& res) {
    json body = parse_body(req);
    check_model(body);
    if (!body.contains("prompt")) throw bad_request("'prompt' is required", "prompt");
    // prompt: a string, strings, token ids, or lists of token ids.
    std::vector<std::vector<int32_t>> prompts;
    std::vector<std::string> texts;
    const auto& p = body["prompt"];
    auto ids_of = [&](const json& arr) {
      std::vector<int32_t> ids;
      for (const auto& x : arr) {
        if (!x.is_number_integer()) throw bad_request("'prompt' token lists must hold integers", "prompt");
        ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
      }
      return ids;
    };
    if (p.is_string()) {
      texts.push_back(p.get<std::string>());
    } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
      prompts.push_back(ids_of(p));
    } else if (p.is_array() && !p.empty()) {
      for (const auto& x : p) {
        if (x.is_string()) texts.push_back(x.get<std::string>());
        else if (x.is_array()) prompts.push_back(ids_of(x));
        else throw bad_request("'prompt' must be a string, a list of strings, or token ids", "prompt");
      }
      if (!texts.empty() && !prompts.empty()) throw bad_request("'prompt' mixes strings and token ids", "prompt");
    } else {
      throw bad_request("'prompt' must be a non-empty string, list of strings, or token ids", "prompt");
    }
    if (!texts.empty()) {
      for (const auto& t : texts) prompts.push_back(engine_->encode_context(t));
    } else {
      for (const auto& ids : prompts) {
        check_ids(ids, "prompt");
        texts.push_back(tok_->decode(ids, false));
      }
    }
    const int64_t max_tokens = int_field(body, "max_tokens", 16, 0, engine_->max_length());
    const bool echo = bool_field(body, "echo", false);
    const int64_t logprobs = int_field(body, "logprobs", -1, 0, 20);
    const bool stream = bool_field(body, "stream", false);
    const auto stops = stop_field(body);
    auto job = std::make_shared<Job>();
    job->sampling = sampling(body);
    for (size_t i = 0; i < prompts.size(); ++i) {
      check_ids(prompts[i], "prompt");
      check_length(prompts[i].size(), max_tokens);
      if (max_tokens > 0) {
        train::GenerationInput in;
        in.prompt = prompts[i];
        in.max_new_tokens = static_cast<int>(max_tokens);
        in.stops = train::StopStrings(stops);
        in.stream = static_cast<int64_t>(i);
        job->inputs.push_back(std::move(in));
      }
    }
    if (stream) {
      if (logprobs >= 0) throw bad_request("'logprobs' with 'stream' is not supported", "logprobs");
      json head = {{"id", fmt::format("cmpl-{}", ++request_id_)}, {"object", "text_completion"},
                   {"created", now()}, {"model", args_.model_name}};
      auto chunk = [head](size_t i, const std::string& text, const char* finish) {
        json e = head;
        e["choices"] = json::array({{{"index", i}, {"text", text}, {"logprobs", nullptr},
                                     {"finish_reason", finish ? json(finish) : json(nullptr)}}});
        return e;
      };
      std::vector<json> first;
      if (echo)
        for (size_t i = 0; i < texts.size(); ++i) first.push_back(chunk(i, texts[i], nullptr));
      stream_job(res, job, prompts.size(), chunk, first);
      return;
    }
    const auto client_gone = job->inputs.empty() && logprobs < 0 ? nullptr : hang_up_check(req);
    if (!job->inputs.empty() && !scheduler_->run(job, client_gone)) throw client_left();
    // Log-probabilities: one teacher-forced pass over prompt + completion.
    std::vector<TokenScores> scores;
    if (logprobs >= 0) {
      auto sj = std::make_shared<Job>();
      sj->top_k = static_cast<int>(std::max<int64_t>(logprobs, 1));
      for (size_t i = 0; i < prompts.size(); ++i) {
        auto seq = prompts[i];
        if (max_tokens > 0) seq.insert(seq.end(), job->outputs[i].tokens.begin(), job->outputs[i].tokens.end());
        sj->score.push_back(seq);
      }
      if (!scheduler_->run(sj, client_gone)) throw client_left();
      scores = std::move(sj->scores);
    }
    json choices = json::array();
    int64_t prompt_tokens = 0, completion_tokens = 0;
    for (size_t i = 0; i < prompts.size(); ++i) {
      const std::string gen = max_tokens > 0 ? job->outputs[i].text : "";
      const auto& gen_ids = max_tokens > 0 ? job->outputs[i].tokens : std::vector<int32_t>{};
      json c = {{"index", i},
                {"text", echo ? texts[i] + gen : gen},
                {"finish_reason", max_tokens > 0 ? finish_name(job->outputs[i].finish) : "length"},
                {"logprobs", nullptr}};
      if (logprobs >= 0) {
        auto seq = prompts[i];
        seq.insert(seq.end(), gen_ids.begin(), gen_ids.end());
        c["logprobs"] = logprobs_json(scores[i], seq, echo ? 0 : prompts[i].size(), 0);
      }
      choices.push_back(c);
      prompt_tokens += static_cast<int64_t>(prompts[i].size());
      completion_tokens += static_cast<int64_t>(gen_ids.size());
    }
    json out = {{"id", fmt::format("cmpl-{}", ++request_id_)},
                {"object", "text_completion"},
                {"created", now()},
                {"model", args_.model_name},
                {"choices", choices},
                {"usage", {{"prompt_tokens", prompt_tokens},
                           {"completion_tokens", completion_tokens},
                           {"total_tokens", prompt_tokens + completion_tokens}}}};
    send_json(res, out);
  }

  void chat(const httplib::Request& req, httplib::Response& res) {
    json body = parse_body(req);
    check_model(body);
    if (!template_)
      throw bad_request("this server has no chat template: start it with --chat-template NAME (one of " +
                            fmt::format("{}", fmt::join(data::template_names(), ", ")) + ")",
                        "messages");
    if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty())
      throw bad_request("'messages' must be a non-empty array", "messages");
    data::Conversation conv;
    conv.system = args_.system_prompt;
    for (size_t i = 0; i < body["messages"].size(); ++i) {
      const auto& m = body["messages"][i];
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
        throw bad_request(fmt::format("messages[{}] needs a 'role'", i), "messages");
      std::string content;
      if (m.contains("content") && m["content"].is_string()) {
        content = m["content"];
      } else if (m.contains("content") && m["content"].is_array()) {
        for (const auto& part : m["content"]) {
          if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
            throw bad_request(fmt::format("messages[{}]: only text content parts are supported", i), "messages");
          content += part["text"].get<std::string>();
        }
      } else {
        throw bad_request(fmt::format("messages[{}] needs 'content' as a string", i), "messages");
      }
      const std::string role = m["role"];
      if (role == "system" || role == "developer") {
        if (!conv.messages.empty()) throw bad_request("a system message must come first", "messages");
        conv.system = content;
        continue;
      }
      const bool want_user = conv.messages.size() % 2 == 0;
      if (role != "user" && role != "assistant")
        throw bad_request(fmt::format("messages[{}]: role '{}' is not supported", i, role), "messages");
      if ((role == "user") != want_user)
        throw bad_request(fmt::format("messages[{}]: user and assistant turns must alternate, starting with user", i),
                          "messages");
      conv.messages.push_back({role == "user" ? data::Role::kUser : data::Role::kAssistant, content});
    }
    if (conv.messages.empty() || conv.messages.size() % 2 == 0)
      throw bad_request("the last message must be the user's", "messages");
    std::vector<int32_t> prompt;
    for (const auto& ids : template_->encode_messages(conv)) prompt.insert(prompt.end(), ids.begin(), ids.end());
    check_ids(prompt, "messages");
    const int64_t room = engine_->max_length() - static_cast<int64_t>(prompt.size());
    int64_t max_tokens = int_field(body, "max_completion_tokens", -1, 1, engine_->max_length());
    max_tokens = int_field(body, "max_tokens", max_tokens, 1, engine_->max_length());
    if (max_tokens < 0) {
      if (room < 1) check_length(prompt.size(), 1);
      max_tokens = room;
    }
    check_length(prompt.size(), max_tokens);
    const bool stream = bool_field(body, "stream", false);
    auto job = std::make_shared<Job>();
    job->sampling = sampling(body);
    train::GenerationInput in;
    in.prompt = prompt;
    in.max_new_tokens = static_cast<int>(max_tokens);
    in.stops = train::StopStrings(stop_field(body));
    in.stream = 0;
    job->inputs.push_back(std::move(in));
    const std::string id = fmt::format("chatcmpl-{}", ++request_id_);
    if (stream) {
      json head = {{"id", id}, {"object", "chat.completion.chunk"}, {"created", now()}, {"model", args_.model_name}};
      auto chunk = [head](size_t, const std::string& text, const char* finish) {
        json e = head;
        e["choices"] = json::array({{{"index", 0},
                                     {"delta", finish ? json::object() : json{{"content", text}}},
                                     {"finish_reason", finish ? json(finish) : json(nullptr)}}});
        return e;
      };
      json first = head;
      first["choices"] = json::array(
          {{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"finish_reason", nullptr}}});
      stream_job(res, job, 1, chunk, {first});
      return;
    }
    if (!scheduler_->run(job, hang_up_check(req))) throw client_left();
    const auto& o = job->outputs[0];
    const int64_t pt = static_cast<int64_t>(prompt.size()), ct = static_cast<int64_t>(o.tokens.size());
    json usage = {{"prompt_tokens", pt}, {"completion_tokens", ct}, {"total_tokens", pt + ct}};
    send_json(res, {{"id", id},
                    {"object", "chat.completion"},
                    {"created", now()},
                    {"model", args_.model_name},
                    {"choices", json::array({{{"index", 0},
                                              {"message", {{"role", "assistant"}, {"content", o.text}}},
                                              {"logprobs", nullptr},
                                              {"finish_reason", finish_name(o.finish)}}})},
                    {"usage", usage}});
  }

  // How much of a row's decoded text can be sent while it is still generating: not past a stop
  // string (the text is cut there), not into the last bytes a stop could still start in, and not
  // into an unfinished UTF-8 character.
  static size_t stable_prefix(const std::string& text, const train::StopStrings& stops) {
    size_t safe = text.size();
    const size_t hit = stops.find(text);
    if (hit != std::string::npos) safe = hit;
    else if (!stops.empty()) safe = text.size() >= stops.longest() ? text.size() - stops.longest() + 1 : 0;
    size_t k = safe;
    while (k > 0 && safe - k < 4 && (static_cast<unsigned char>(text[k - 1]) & 0xC0) == 0x80) --k;
    if (k > 0) {
      const unsigned char lead = static_cast<unsigned char>(text[k - 1]);
      const size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
      if (lead >= 0xC0 && safe - (k - 1) < need) safe = k - 1;
    }
    return safe;
  }

  // Server-sent events as the engine generates: `first` events, then text deltas per choice as
  // tokens arrive, a final event per choice with its finish reason, then "data: [DONE]". A client
  // that goes away cancels its rows at their next token.
  void stream_job(httplib::Response& res, std::shared_ptr<Job> job, size_t n_choices,
                  std::function<json(size_t, const std::string&, const char*)> chunk, std::vector<json> first) {
    struct State {
      std::mutex mu;
      std::condition_variable cv;
      std::vector<std::vector<int32_t>> tokens;
      bool done = false, changed = false;
      std::atomic<bool> gone{false};
    };
    auto st = std::make_shared<State>();
    st->tokens.resize(job->inputs.size());
    job->on_token = [st](size_t i, int32_t t) {
      if (st->gone) return false;
      {
        std::lock_guard<std::mutex> lock(st->mu);
        st->tokens[i].push_back(t);
        st->changed = true;
      }
      st->cv.notify_all();
      return true;
    };
    job->on_done = [st] {
      {
        std::lock_guard<std::mutex> lock(st->mu);
        st->done = true;
      }
      st->cv.notify_all();
    };
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [this, job, st, n_choices, chunk, first](
                                                              size_t, httplib::DataSink& sink) {
      auto send = [&](const std::string& data) {
        const std::string ev = "data: " + data + "\n\n";
        if (sink.write(ev.data(), ev.size())) return true;
        st->gone = true;
        return false;
      };
      auto send_json_event = [&](const json& e) {
        return send(e.dump(-1, ' ', false, json::error_handler_t::replace));
      };
      for (const auto& e : first)
        if (!send_json_event(e)) return false;
      scheduler_->submit(job);
      std::vector<size_t> sent(n_choices, 0);
      for (;;) {
        std::vector<std::vector<int32_t>> toks;
        bool done;
        {
          std::unique_lock<std::mutex> lock(st->mu);
          st->cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return st->done || st->changed; });
          done = st->done;
          st->changed = false;
          toks = st->tokens;
        }
        if (done) break;
        if (!sink.is_writable()) {
          st->gone = true;
          return false;
        }
        for (size_t i = 0; i < toks.size() && i < n_choices; ++i) {
          if (toks[i].empty()) continue;
          const std::string text = tok_->decode(toks[i], true);
          const size_t safe = stable_prefix(text, job->inputs[i].stops);
          if (safe > sent[i]) {
            if (!send_json_event(chunk(i, text.substr(sent[i], safe - sent[i]), nullptr))) return false;
            sent[i] = safe;
          }
        }
      }
      if (job->error) {
        std::string msg = "internal error";
        try {
          std::rethrow_exception(job->error);
        } catch (const std::exception& e) {
          msg = e.what();
        }
        send_json_event({{"error", {{"message", msg}, {"type", "server_error"}, {"param", nullptr}, {"code", nullptr}}}});
      } else {
        for (size_t i = 0; i < n_choices; ++i) {
          const bool generated = i < job->outputs.size();
          const std::string text = generated ? job->outputs[i].text : "";
          if (text.size() > sent[i] && !send_json_event(chunk(i, text.substr(sent[i]), nullptr))) return false;
          if (!send_json_event(chunk(i, "", generated ? finish_name(job->outputs[i].finish) : "length"))) return false;
        }
      }
      send("[DONE]");
      sink.done();
      return true;
    });
  }

  static int64_t now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  }

  ServeArgs args_;
  std::shared_ptr<const data::Tokenizer> tok_;
  std::unique_ptr<train::Engine> engine_;
  std::unique_ptr<data::TemplateEncoder> template_;
  std::string template_name_;
  int32_t chat_stop_ = -1;
  int64_t vocab_ = 0;
  int64_t created_ = now();
  std::atomic<int64_t> request_id_{0};
  std::atomic<int64_t> next_seed_{1};
  std::unique_ptr<Scheduler> scheduler_;
};

// A fine-tuned checkpoint (its folder or the run folder above holds the trainer's files) gets the
// paper's template; any other checkpoint has none unless one is named.
std::string resolve_template(const std::string& choice, const fs::path& ckpt) {
  if (choice == "off" || choice == "none") return "";
  if (choice == "on") return "llama3_lf07";
  if (choice == "auto") {
    for (const auto& d : {ckpt, ckpt.parent_path()})
      for (const char* f : {"trainer_state.json", "train_results.json"})
        if (fs::exists(d / f)) return "llama3_lf07";
    return "";
  }
  return choice;
}

void run_serve(ServeArgs a) {
  const fs::path ckpt(a.checkpoint);
  if (!fs::is_regular_file(ckpt / "config.json"))
    throw Error(a.checkpoint + ": not a checkpoint folder (no config.json)");
  if (a.port < 0 || a.port > 65535) throw Error("--port must be 0..65535 (0: any free port)");
  if (a.batch_size < 1) throw Error("--batch-size must be >= 1");
  const int threads = a.threads > 0 ? a.threads : std::max(1u, std::thread::hardware_concurrency());
  at::set_num_threads(threads);
  torch::Device device(torch::kCPU);
  if (a.device == "cuda") {
    if (!torch::cuda::is_available()) throw Error("--device cuda: this LibTorch build sees no CUDA device");
    device = torch::Device(torch::kCUDA);
  } else if (a.device != "cpu") {
    throw Error("--device must be cpu or cuda, not '" + a.device + "'");
  }
  const std::string dtype_name = a.dtype.empty() ? (device.is_cuda() ? "bf16" : "fp32") : a.dtype;
  std::string tok_dir = a.tokenizer;
  if (tok_dir.empty()) tok_dir = fs::exists(ckpt / "tokenizer.json") ? ckpt.string() : default_tokenizer_dir();
  auto tok = data::Tokenizer::from_dir(tok_dir);
  const std::string tmpl = resolve_template(a.chat_template, ckpt);
  if (a.model_name.empty()) a.model_name = fs::absolute(ckpt).lexically_normal().filename().string();
  if (a.model_name.empty()) a.model_name = "packbench";

  fmt::print(stderr, "serve: loading {} ({}, {})\n", a.checkpoint, dtype_name, device.str());
  auto model = train::load_pretrained(a.checkpoint, train::dtype_from_name(dtype_name), device);
  std::vector<int32_t> eos;
  for (int64_t id : model->config().eos_token_ids) eos.push_back(static_cast<int32_t>(id));

  // SIGTERM / SIGINT go to one thread that stops the server; every other thread blocks them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up mid-stream is a failed write, not a crash

  Server server(a, tok, train::make_llama_backend(model), eos, tmpl, threads);
  httplib::Server svr;
  svr.set_payload_max_length(a.max_body_bytes);
  server.routes(svr);
  const int port = a.port == 0 ? svr.bind_to_any_port(a.host) : (svr.bind_to_port(a.host, a.port) ? a.port : -1);
  if (port < 0) throw Error(fmt::format("cannot listen on {}:{} (in use, or not an address here)", a.host, a.port));

  std::atomic<bool> stopped{false};
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    if (!stopped) fmt::print(stderr, "serve: signal {}, shutting down\n", sig);
    svr.stop();
  });
  fmt::print(stderr, "serve: model '{}', chat template {}, context window {}, batch {}, {} threads\n",
             a.model_name, tmpl.empty() ? "off" : tmpl, a.max_length > 0 ? a.max_length : model->config().max_position_embeddings,
             a.batch_size, threads);
  fmt::print(stderr, "serve: listening on http://{}:{}\n", a.host, port);
  std::fflush(stderr);
  const bool ok = svr.listen_after_bind();
  stopped = true;
  pthread_kill(signal_thread.native_handle(), SIGTERM);  // wakes sigwait if no signal came
  signal_thread.join();
  if (!ok) throw Error("the server stopped with an error");
  fmt::print(stderr, "serve: stopped\n");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand("serve", "serve a checkpoint over an OpenAI-compatible HTTP API");
  cmd->add_option("--checkpoint", args->checkpoint, "Hugging Face checkpoint folder (config.json + safetensors)")
      ->required();
  cmd->add_option("--host", args->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", args->port, "port (0: any free port, printed on start)")->capture_default_str();
  cmd->add_option("--model-name", args->model_name, "the name /v1/models lists (default: the checkpoint folder's)");
  cmd->add_option("--chat-template", args->chat_template,
                  "for /v1/chat/completions: auto (llama3_lf07 for fine-tuned checkpoints) | on | off | a name")
      ->capture_default_str();
  cmd->add_option("--system-prompt", args->system_prompt, "default system prompt for chat");
  cmd->add_option("--batch-size", args->batch_size, "rows per forward pass")->capture_default_str();
  cmd->add_option("--max-length", args->max_length, "context window (default: the model's)");
  cmd->add_option("--tokenizer", args->tokenizer, "tokenizer folder (default: the checkpoint's, else LLaMA-3's)");
  cmd->add_option("--dtype", args->dtype, "fp32 | bf16 | fp16 (default: fp32 on CPU, bf16 on CUDA)");
  cmd->add_option("--device", args->device, "cpu | cuda")->capture_default_str();
  cmd->add_option("--threads", args->threads, "CPU threads (default: all cores)");
  cmd->callback([args] { run_serve(*args); });
}

}  // namespace packbench::cli
