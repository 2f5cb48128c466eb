-- wrk script: one fixed HTTP request, repeated, with every answer checked.
--
-- Usage (bench/run.sh does this):
--   wrk ... -s bench/request.lua http://127.0.0.1:PORT -- METHOD PATH STATUS EXPECT BODY [HEADER ...]
--   METHOD   GET or POST
--   PATH     e.g. /token
--   STATUS   the status every answer must have (e.g. 200; 400 for a pending device poll)
--   EXPECT   text the body must contain; alternatives separated by "|"; "-" checks nothing
--   BODY     the request body ("-" for none); a form body gets its Content-Type from a HEADER
--   HEADER   "Name: value", any number (e.g. "Authorization: Basic ...")
--
-- An answer with another status, or without the expected text, is counted as an error by
-- status code (a wrong body is counted as "<status>body"), so a run that "went fast" because
-- it was answering errors is visible. done() prints one machine-readable line that
-- bench/run.sh parses:
--   BENCH_RESULT requests=N duration_s=S rps=R p50_ms=A p99_ms=B non200=C socket_errors=D statuses=CODE:N,...
-- (non200 counts every wrong answer, whatever STATUS is.)

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local function split(text, sep)
   local parts = {}
   for piece in string.gmatch(text, "([^" .. sep .. "]+)") do
      table.insert(parts, piece)
   end
   return parts
end

function init(args)
   if #args < 5 then
      error("request.lua: METHOD PATH STATUS EXPECT BODY [HEADER ...]")
   end
   wrk.method = args[1]
   wrk.path = args[2]
   expected_status = tonumber(args[3])
   expected_text = {}
   if args[4] ~= "-" then
      expected_text = split(args[4], "|")
   end
   if args[5] ~= "-" then
      wrk.body = args[5]
   end
   for i = 6, #args do
      local name, value = string.match(args[i], "^([^:]+):%s*(.*)$")
      if name == nil then
         error("request.lua: a header is 'Name: value', got " .. args[i])
      end
      wrk.headers[name] = value
   end
   -- Per-thread counters, read back by done() through thread:get().
   non200 = 0
   statuses = {}
end

local function body_ok(body)
   if #expected_text == 0 then
      return true
   end
   for _, text in ipairs(expected_text) do
      if string.find(body, text, 1, true) then
         return true
      end
   end
   return false
end

function response(status, headers, body)
   local key = nil
   if status ~= expected_status then
      key = tostring(status)
   elseif not body_ok(body) then
      key = tostring(status) .. "body"
   end
   if key ~= nil then
      non200 = non200 + 1
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
