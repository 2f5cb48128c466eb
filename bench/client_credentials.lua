-- wrk script: RFC 6749 §4.4 client_credentials token requests against Portcullis.
--
-- Usage (bench/run.sh does this):
--   wrk ... -s bench/client_credentials.lua http://127.0.0.1:PORT -- '<Basic credentials>' [resource]
-- The first script argument is the base64 of "urlencode(client_id):urlencode(client_secret)"
-- (RFC 6749 §2.3.1); the optional second one is an RFC 8707 resource to ask for.
--
-- Every response is seen by response(): anything but 200 is counted per status code, so a
-- run that "went fast" because it was answering errors is visible. done() prints one
-- machine-readable line that bench/run.sh parses:
--   BENCH_RESULT requests=N duration_s=S rps=R p50_ms=A p99_ms=B non200=C socket_errors=D statuses=CODE:N,...

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local auth = args[1]
   if auth == nil or auth == "" then
      error("client_credentials.lua: pass the Basic credentials as the first script argument")
   end
   local body = "grant_type=client_credentials"
   if args[2] ~= nil and args[2] ~= "" then
      body = body .. "&resource=" .. args[2]:gsub("[^%w%-%._~]", function(c)
         return string.format("%%%02X", string.byte(c))
      end)
   end
   wrk.method = "POST"
   wrk.path = "/token"
   wrk.body = body
   wrk.headers["Authorization"] = "Basic " .. auth
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
   wrk.headers["Accept"] = "application/json"
   -- Per-thread counters, read back by done() through thread:get().
   non200 = 0
   statuses = {}
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
      local key = tostring(status)
      statuses[key] = (statuses[key] or 0) + 1
   end
end

function done(summary, latency, requests)
   local non200_total = 0
   local by_status = {}
   for _, thread in ipairs(threads) do
      non200_total = non200_total + (thread:get("non200") or 0)
      local s = thread:get("statuses") or {}
      for code, n in pairs(s) do
         by_status[code] = (by_status[code] or 0) + n
      end
   end
   local e = summary.errors
   local socket_errors = e.connect + e.read + e.write + e.timeout
   local duration_s = summary.duration / 1e6
   local codes = {}
   for code, n in pairs(by_status) do
      table.insert(codes, code .. ":" .. n)
   end
   table.sort(codes)
   local statuses_str = #codes > 0 and table.concat(codes, ",") or "-"
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f non200=%d socket_errors=%d statuses=%s connect=%d read=%d write=%d timeout=%d\n",
      summary.requests, duration_s, summary.requests / duration_s,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      non200_total, socket_errors, statuses_str,
      e.connect, e.read, e.write, e.timeout))
end
