-- DELETE the locations made for this run (PREFIX and a 7-digit number from 1, as bench/run.py
-- inserts them), one after another. The URL's path ends in "/locations/"; the code follows it.
local counter = 0
request = function()
  counter = counter + 1
  local code = PREFIX .. string.format("%07d", counter)
  return wrk.format("DELETE", wrk.path .. code, {["Authorization"] = AUTH})
end
