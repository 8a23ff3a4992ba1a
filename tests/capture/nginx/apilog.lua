-- apilog.lua: records one HTTP exchange in nginx (lua-nginx-module + lua-cjson) as the JSON the
-- `nginx` decoder reads (docs/gateways/nginx.md), exposes it as $apilog_json for access_log
-- (file or syslog:), and POSTs it to the HTTP ingest named by $apilog_sink
-- ("HOST PORT PATH"; empty = do not POST).
local cjson = require "cjson.safe"
local _M = {}
_M.MAX_BODY = 1024 * 1024  -- bytes of each body kept

function _M.access()
  ngx.req.read_body()
  local b = ngx.req.get_body_data()
  if not b then
    local f = ngx.req.get_body_file()  -- larger than client_body_buffer_size: spilled to disk
    if f then
      local fh = io.open(f, "rb")
      if fh then b = fh:read(_M.MAX_BODY); fh:close() end
    end
  end
  ngx.ctx.req_body = b or ""
end

function _M.body_filter()
  local chunk, ctx = ngx.arg[1], ngx.ctx
  if chunk and #chunk > 0 then
    local have = ctx.resp_len or 0
    if have < _M.MAX_BODY then
      local parts = ctx.resp_chunks or {}
      parts[#parts + 1] = chunk:sub(1, _M.MAX_BODY - have)
      ctx.resp_chunks = parts
    end
    ctx.resp_len = have + #chunk
  end
end

-- Text travels as is; anything else as base64 (cjson would pass invalid UTF-8 through).
local function encode(body, ctype)
  if body == "" or (ctype and ngx.re.find(ctype, [[json|text|xml|x-www-form-urlencoded]], "joi")) then
    return body, nil
  end
  return ngx.encode_base64(body), "base64"
end

-- Cosockets are not allowed in the log phase; a zero-delay timer runs this afterwards.
local function ship(premature, sink, payload)
  if premature then return end
  local host, port, path = sink:match("^(%S+) (%d+) (%S+)$")
  local sock = ngx.socket.tcp()
  sock:settimeout(2000)
  local ok, err = sock:connect(host, tonumber(port))
  if not ok then ngx.log(ngx.ERR, "apilog: connect: ", err); return end
  local _, serr = sock:send("POST " .. path .. " HTTP/1.1\r\nHost: " .. host ..
      "\r\nContent-Type: application/json\r\nContent-Length: " .. #payload ..
      "\r\nConnection: close\r\n\r\n" .. payload)
  if serr then ngx.log(ngx.ERR, "apilog: send: ", serr) end
  local status = sock:receive("*l")
  if not status or not status:find(" 202 ", 1, true) then ngx.log(ngx.ERR, "apilog: ingest answered ", status or "nothing") end
  sock:close()
end

function _M.log()
  local ctx = ngx.ctx
  local resp_body, resp_enc = encode(ctx.resp_chunks and table.concat(ctx.resp_chunks) or "", ngx.var.sent_http_content_type)
  local req_body, req_enc = encode(ctx.req_body or "", ngx.var.content_type)
  local ev = {
    ts = ngx.req.start_time(),
    duration_ms = math.floor((ngx.now() - ngx.req.start_time()) * 1000 + 0.5),
    client = ngx.var.remote_addr,
    request = {
      method = ngx.req.get_method(), path = ngx.var.uri, query = ngx.var.args or "",
      http_version = ngx.req.http_version(), headers = ngx.req.get_headers(100, true),
      body = req_body, body_encoding = req_enc,
    },
    response = {
      status = ngx.status, headers = ngx.resp.get_headers(100, true),
      body = resp_body, body_encoding = resp_enc,
      body_bytes = ctx.resp_len or 0, body_truncated = (ctx.resp_len or 0) > _M.MAX_BODY,
    },
    upstream = { addr = ngx.var.upstream_addr, status = ngx.var.upstream_status },
    request_id = ngx.var.request_id,
  }
  local js = cjson.encode(ev)
  if not js then return end
  ngx.var.apilog_json = js
  local sink = ngx.var.apilog_sink
  if sink and sink ~= "" then
    local ok, err = ngx.timer.at(0, ship, sink, js)
    if not ok then ngx.log(ngx.ERR, "apilog: timer: ", err) end
  end
end

return _M
