-- Prepares strings with Prosody's own code, for test/differential/stringprep.test.ts.
-- Reads lines "<what> <hex of UTF-8 bytes>" on stdin, where <what> is nodeprep,
-- nameprep, resourceprep (util.encodings.stringprep) or jid (util.jid.prep);
-- writes one line each: the hex of the prepared string, or "-" when Prosody
-- refuses it. PRIVGUARD_PROSODY_PREFIX: the module prefix ("" for Prosody 0.12,
-- "prosody." for Prosody 13). Run with `lua5.4 -e "$(cat this file)"`.
local prefix = os.getenv("PRIVGUARD_PROSODY_PREFIX") or ""
local sp = require(prefix .. "util.encodings").stringprep
local jid = require(prefix .. "util.jid")
local prep = { nodeprep = sp.nodeprep, nameprep = sp.nameprep, resourceprep = sp.resourceprep, jid = jid.prep }
local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end
local function tohex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local out = {}
for line in io.lines() do
  local what, h = line:match("^(%a+) (%x*)$")
  local r = prep[what](unhex(h))
  out[#out + 1] = r == nil and "-" or tohex(r)
  if #out >= 4096 then io.write(table.concat(out, "\n"), "\n"); out = {} end
end
if #out > 0 then io.write(table.concat(out, "\n"), "\n") end
