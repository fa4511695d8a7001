-- PATCH the name of the main organization's locations in turn (CODES), to a name new to this run:
-- NAME (full-width, set per run) and the request's number in full-width digits, so that no
-- request leaves a name as it was. The URL's path ends in "/locations/"; the code follows it.
local digits = {["0"] = "０", ["1"] = "１", ["2"] = "２", ["3"] = "３", ["4"] = "４",
                ["5"] = "５", ["6"] = "６", ["7"] = "７", ["8"] = "８", ["9"] = "９"}
local counter = 0
request = function()
  counter = counter + 1
  local code = CODES[(counter % #CODES) + 1]
  local number = string.gsub(tostring(counter), "%d", digits)
  local name = NAME .. "第" .. number .. "版"
  local body = '{"name":"' .. name .. '"}'
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = AUTH}
  return wrk.format("PATCH", wrk.path .. code, headers, body)
end
