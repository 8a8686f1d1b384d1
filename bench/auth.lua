-- Copied from ../shared/peers/django-simplejwt/bench/auth.lua so both servers are driven
-- by the same script; the only change: the authenticated GET path comes from ME_PATH.
-- wrk script for the four token-auth endpoints. The mode and its inputs come
-- from the environment:
--
--   MODE=obtain   POST /api/auth/token/          body from BENCH_USER / BENCH_PASSWORD
--   MODE=refresh  POST /api/auth/token/refresh/  one unused refresh token per request,
--                 read from TOKENS_FILE (one per line); pass the wrk thread count
--                 after "--" so the threads split the file without overlap
--   MODE=verify   POST /api/auth/token/verify/   body {"token": TOKEN}
--   MODE=me       GET  $ME_PATH (default /api/me/) Authorization: Bearer ACCESS
--
-- done() prints one machine-readable "RESULT ..." line.

local mode = os.getenv("MODE") or "me"

local function json_str(s)
   return '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
end

wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"

if mode == "obtain" then
   wrk.method = "POST"
   wrk.path = "/api/auth/token/"
   wrk.body = '{"username":' .. json_str(os.getenv("BENCH_USER") or "alice")
      .. ',"password":' .. json_str(os.getenv("BENCH_PASSWORD") or "alice-password-123") .. '}'
elseif mode == "verify" then
   wrk.method = "POST"
   wrk.path = "/api/auth/token/verify/"
   wrk.body = '{"token":' .. json_str(assert(os.getenv("TOKEN"), "TOKEN unset")) .. '}'
elseif mode == "me" then
   wrk.method = "GET"
   wrk.path = os.getenv("ME_PATH") or "/api/me/"
   wrk.headers["Content-Type"] = nil
   wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("ACCESS"), "ACCESS unset")
elseif mode == "refresh" then
   wrk.method = "POST"
   wrk.path = "/api/auth/token/refresh/"
else
   error("unknown MODE " .. mode)
end

local counter = 1
local threads = {}

function setup(thread)
   thread:set("id", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

if mode == "refresh" then
   function init(args)
      local nthreads = tonumber(args[1] or "1")
      local path = assert(os.getenv("TOKENS_FILE"), "TOKENS_FILE unset")
      bodies, used, reused = {}, 0, 0
      local n = 0
      for line in io.lines(path) do
         if #line > 0 then
            if n % nthreads == (id - 1) then
               bodies[#bodies + 1] = wrk.format(nil, nil, nil, '{"refresh":"' .. line .. '"}')
            end
            n = n + 1
         end
      end
      available = #bodies
   end

   -- Each call hands out the next unused token. If the file runs out the
   -- script starts over; those requests then fail (401, token blacklisted)
   -- and are counted in "reused".
   function request()
      used = used + 1
      if used > available then reused = reused + 1 end
      return bodies[((used - 1) % available) + 1]
   end
end

function done(summary, latency, requests)
   local dur = summary.duration / 1e6
   local e = summary.errors
   local extra = ""
   if mode == "refresh" then
      local used_t, reused_t, avail_t = 0, 0, 0
      for _, t in ipairs(threads) do
         used_t = used_t + (t:get("used") or 0)
         reused_t = reused_t + (t:get("reused") or 0)
         avail_t = avail_t + (t:get("available") or 0)
      end
      extra = string.format(" tokens_available=%d tokens_handed_out=%d tokens_reused=%d",
                            avail_t, used_t, reused_t)
   end
   io.write(string.format(
      "RESULT mode=%s requests=%d duration_s=%.2f rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f " ..
      "status_ge400=%d connect_err=%d read_err=%d write_err=%d timeouts=%d%s\n",
      mode, summary.requests, dur, summary.requests / dur,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000,
      e.status, e.connect, e.read, e.write, e.timeout, extra))
end
