-- POST a new location with a code unique to this run (PREFIX is set per run, 3 characters).
local counter = 0
request = function()
  counter = counter + 1
  local code = PREFIX .. string.format("%07d", counter)
  local body = '{"code":"' .. code .. '","name":"ベンチマーク新規拠点","short_name":"ベンチ新規"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = AUTH}, body)
end
