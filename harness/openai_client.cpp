// The evals' LanguageModel over an OpenAI-compatible HTTP server: requests, retries, parallelism.
#include "harness/openai_client.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"

namespace packbench::cli {

namespace {

using json = nlohmann::json;

// The server's error message from an OpenAI-style body, else the body itself (shortened).
std::string error_message(const std::string& body) {
  try {
    auto j = json::parse(body);
    if (j.contains("error")) {
      const auto& e = j["error"];
      if (e.is_object() && e.contains("message") && e["message"].is_string()) return e["message"];
      if (e.is_string()) return e;
    }
  } catch (const std::exception&) {
  }
  return body.size() > 300 ? body.substr(0, 300) + "..." : body;
}

// lm-evaluation-harness's generate_until cut: everything before the earliest stop string.
std::string cut_at_stops(std::string text, const std::vector<std::string>& until) {
  size_t cut = std::string::npos;
  for (const auto& s : until)
    if (!s.empty()) cut = std::min(cut, text.find(s));
  if (cut != std::string::npos) text.resize(cut);
  return text;
}

}  // namespace

RemoteModel::RemoteModel(RemoteOptions options) : options_(std::move(options)) {
  const std::string& url = options_.url;
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos || url.compare(0, scheme_end, "http") != 0)
    throw Error("--model-url '" + url + "': expected http://host:port[/v1] (https is not supported)");
  const size_t path_start = url.find('/', scheme_end + 3);
  scheme_host_port_ = url.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "" : url.substr(path_start);
  while (!path.empty() && path.back() == '/') path.pop_back();
  for (const char* tail : {"/chat/completions", "/completions"}) {
    const std::string t = tail;
    if (path.size() >= t.size() && path.compare(path.size() - t.size(), t.size(), t) == 0) {
      path.resize(path.size() - t.size());
      break;
    }
  }
  base_path_ = path.empty() ? "/v1" : path;
  if (scheme_host_port_.size() <= scheme_end + 3) throw Error("--model-url '" + url + "': no host");
  if (options_.concurrency < 1) throw Error("--concurrency must be >= 1");
  if (options_.batch_size < 1) throw Error("--batch-size must be >= 1");
  if (options_.model.empty()) {
    json models = call("/models", nullptr);
    if (!models.contains("data") || !models["data"].is_array() || models["data"].empty() ||
        !models["data"][0].contains("id"))
      throw Error(base_url() + "/models lists no model; name one with --model");
    options_.model = models["data"][0]["id"].get<std::string>();
  }
}

json RemoteModel::call(const std::string& path, const json* body) const {
  const std::string full = base_path_ + path;
  const std::string payload = body ? body->dump(-1, ' ', false, json::error_handler_t::replace) : "";
  double wait = options_.backoff_seconds;
  for (int attempt = 0;; ++attempt) {
    httplib::Client cli(scheme_host_port_);
    cli.set_connection_timeout(10);
    cli.set_read_timeout(static_cast<time_t>(options_.timeout_seconds));
    cli.set_write_timeout(static_cast<time_t>(options_.timeout_seconds));
    if (!options_.api_key.empty()) cli.set_bearer_token_auth(options_.api_key);
    ++stats_.http_requests;
    auto res = body ? cli.Post(full, payload, "application/json") : cli.Get(full);
    std::string why;
    if (!res) {
      why = "cannot reach " + scheme_host_port_ + full + " (" + httplib::to_string(res.error()) + ")";
    } else if (res->status >= 200 && res->status < 300) {
      try {
        return json::parse(res->body);
      } catch (const std::exception& e) {
        throw Error(scheme_host_port_ + full + ": the reply is not JSON (" + e.what() + ")");
      }
    } else if (res->status == 429 || res->status >= 500) {
      why = "HTTP " + std::to_string(res->status) + " from " + scheme_host_port_ + full + ": " +
            error_message(res->body);
    } else {
      throw Error("HTTP " + std::to_string(res->status) + " from " + scheme_host_port_ + full + ": " +
                  error_message(res->body));
    }
    if (attempt >= options_.max_retries)
      throw Error(why + (options_.max_retries > 0 ? " (after " + std::to_string(attempt) + " retries)" : ""));
    ++stats_.retries;
    std::this_thread::sleep_for(std::chrono::duration<double>(wait));
    wait = std::min(wait * 2, 30.0);
  }
}

void RemoteModel::run_parallel(size_t n, const std::function<void(size_t)>& job) const {
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  std::mutex mu;
  auto worker = [&] {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (failure) return;
      }
      const size_t i = next++;
      if (i >= n) return;
      try {
        job(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!failure) failure = std::current_exception();
        return;
      }
    }
  };
  const size_t threads = std::min<size_t>(n, static_cast<size_t>(options_.concurrency));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  if (threads > 0) worker();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

std::vector<std::string> RemoteModel::generate_until(const std::vector<evals::GenerationRequest>& requests) {
  std::vector<std::string> out(requests.size());
  const size_t per = options_.chat ? 1 : static_cast<size_t>(options_.batch_size);
  const size_t chunks = (requests.size() + per - 1) / per;
  run_parallel(chunks, [&](size_t c) {
    const size_t lo = c * per, hi = std::min(requests.size(), lo + per);
    // One request per distinct (stops, length): the API takes one of each per request.
    std::map<std::pair<std::vector<std::string>, int>, std::vector<size_t>> groups;
    for (size_t i = lo; i < hi; ++i) {
      const int n = options_.max_new_tokens > 0 ? options_.max_new_tokens : requests[i].max_gen_toks;
      groups[{requests[i].until, n}].push_back(i);
    }
    for (const auto& [key, idx] : groups) {
      json body = {{"model", options_.model},
                   {"max_tokens", key.second},
                   {"temperature", options_.temperature},
                   {"top_p", options_.top_p},
                   {"seed", options_.seed}};
      std::vector<std::string> stops;
      for (const auto& s : key.first)
        if (!s.empty()) stops.push_back(s);
      if (!stops.empty()) body["stop"] = stops;
      if (options_.chat) {
        json messages = json::array();
        if (!options_.system_prompt.empty()) messages.push_back({{"role", "system"}, {"content", options_.system_prompt}});
        messages.push_back({{"role", "user"}, {"content", requests[idx[0]].context}});
        body["messages"] = messages;
        json r = call("/chat/completions", &body);
        count_usage(r);
        if (!r.contains("choices") || r["choices"].empty() || !r["choices"][0].contains("message"))
          throw Error(base_url() + "/chat/completions: the reply has no choices[0].message");
        const auto& content = r["choices"][0]["message"]["content"];
        out[idx[0]] = cut_at_stops(content.is_string() ? content.get<std::string>() : "", key.first);
      } else {
        json prompts = json::array();
        for (size_t i : idx) prompts.push_back(requests[i].context);
        body["prompt"] = prompts;
        json r = call("/completions", &body);
        count_usage(r);
        if (!r.contains("choices") || r["choices"].size() != idx.size())
          throw Error(base_url() + "/completions: expected " + std::to_string(idx.size()) + " choices");
        for (const auto& ch : r["choices"]) {
          const size_t k = ch.value("index", size_t{0});
          if (k >= idx.size()) throw Error(base_url() + "/completions: choice index out of range");
          out[idx[k]] = cut_at_stops(ch.value("text", std::string()), key.first);
        }
      }
    }
  });
  return out;
}

void RemoteModel::count_usage(const json& reply) const {
  if (!reply.contains("usage") || !reply["usage"].is_object()) return;
  stats_.prompt_tokens += reply["usage"].value("prompt_tokens", int64_t{0});
  stats_.completion_tokens += reply["usage"].value("completion_tokens", int64_t{0});
}

// lm-evaluation-harness's split, as the in-process engine makes it: trailing whitespace of the
// context moves to the continuation; the pair is tokenized whole and cut where the context's own
// tokens end. The server tokenizes, so both the context and the whole go out with echo and
// logprobs, and the context's token count picks the continuation's tokens out of the whole.
std::vector<evals::LoglikelihoodResult> RemoteModel::loglikelihood(
    const std::vector<evals::LoglikelihoodRequest>& requests) {
  if (options_.chat)
    throw Error("log-likelihood through a server needs /v1/completions with echo and logprobs; the chat "
                "API has none (use --chat-template off with --model-url)");
  struct Pair {
    size_t ctx, whole;  // indices into texts
  };
  std::vector<std::string> texts;
  std::map<std::string, size_t> index;
  auto intern = [&](const std::string& t) {
    auto [it, fresh] = index.emplace(t, texts.size());
    if (fresh) texts.push_back(t);
    return it->second;
  };
  std::vector<Pair> pairs;
  pairs.reserve(requests.size());
  for (const auto& r : requests) {
    size_t keep = r.context.size();
    while (keep > 0 && std::isspace(static_cast<unsigned char>(r.context[keep - 1]))) --keep;
    const std::string ctx = r.context.substr(0, keep);
    const std::string cont = r.context.substr(keep) + r.continuation;
    const size_t c = intern(ctx);
    pairs.push_back({c, intern(ctx + cont)});
  }
  struct Scored {
    std::vector<double> logprobs;  // per prompt token (the first has none: 0)
    std::vector<bool> greedy;      // per prompt token: it is the most likely one there
  };
  std::vector<Scored> scored(texts.size());
  const size_t per = static_cast<size_t>(options_.batch_size);
  run_parallel((texts.size() + per - 1) / per, [&](size_t c) {
    const size_t lo = c * per, hi = std::min(texts.size(), lo + per);
    json prompts = json::array();
    for (size_t i = lo; i < hi; ++i) prompts.push_back(texts[i]);
    json body = {{"model", options_.model}, {"prompt", prompts}, {"max_tokens", 0}, {"echo", true},
                 {"logprobs", 1}, {"temperature", 0.0}};
    json r = call("/completions", &body);
    count_usage(r);
    if (!r.contains("choices") || r["choices"].size() != hi - lo)
      throw Error(base_url() + "/completions: expected " + std::to_string(hi - lo) + " choices");
    for (const auto& ch : r["choices"]) {
      const size_t k = ch.value("index", size_t{0});
      if (k >= hi - lo) throw Error(base_url() + "/completions: choice index out of range");
      const auto& lp = ch["logprobs"];
      if (!lp.is_object() || !lp.contains("token_logprobs") || !lp.contains("top_logprobs"))
        throw Error(base_url() + "/completions: no logprobs in the reply (does the server support echo?)");
      const auto& tl = lp["token_logprobs"];
      const auto& top = lp["top_logprobs"];
      Scored& s = scored[lo + k];
      for (size_t t = 0; t < tl.size(); ++t) {
        const double v = tl[t].is_number() ? tl[t].get<double>() : 0.0;
        bool best = true;
        if (t < top.size() && top[t].is_object())
          for (const auto& [tok, alt] : top[t].items())
            if (alt.is_number() && alt.get<double>() > v) best = false;
        s.logprobs.push_back(v);
        s.greedy.push_back(best);
      }
    }
  });
  std::vector<evals::LoglikelihoodResult> out(requests.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    const Scored& c = scored[pairs[i].ctx];
    const Scored& w = scored[pairs[i].whole];
    const size_t n = std::min(c.logprobs.size(), w.logprobs.size());
    if (n == 0) throw Error(base_url() + "/completions: a context came back with no tokens");
    out[i].is_greedy = true;
    for (size_t t = n; t < w.logprobs.size(); ++t) {
      out[i].logprob += w.logprobs[t];
      out[i].is_greedy = out[i].is_greedy && w.greedy[t];
    }
  }
  return out;
}

}  // namespace packbench::cli
