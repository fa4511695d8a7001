-- POST /auth/token (grant_type=password), cycling over many users so that no row is a hot spot.
local i = 0
request = function()
  i = i + 1
  local body = "grant_type=password&username=" .. LOGINS[(i % #LOGINS) + 1] .. "&password=" .. PASSWORD
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end
