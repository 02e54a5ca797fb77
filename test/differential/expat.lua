-- libexpat as Prosody runs it (util/xmppstream.lua: lua-expat, namespace
-- separator "\1", comments, processing instructions and DOCTYPEs refused),
-- serving privguard's differential tests over stdin/stdout.
--   "names\n"        -> two lines of 65536 '0'/'1' per BMP code point X: whether
--                       <Xb/> parses (a name's first character), and <aXb/>
--   "doc <n>\n<n bytes>" -> "1\n" when a component stream header followed by
--                       the bytes parses, else "0 <expat's error>\n"
local lxp = require "lxp"

local HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' " ..
  "xmlns:stream='http://etherx.jabber.org/streams' to='c.example.org'>"

local function restricted() error("restricted-xml", 0) end

-- `final`: the document must be complete (names); a stream's content is not.
local function parses(doc, final)
  local p = lxp.new({ Comment = restricted, ProcessingInstruction = restricted, StartDoctypeDecl = restricted }, "\1", false)
  local ok, res, err = pcall(p.parse, p, doc)
  if ok and res and final then ok, res, err = pcall(p.parse, p) end
  pcall(p.close, p)
  if not ok then return false, res end
  if not res then return false, err end
  return true
end

local function names()
  local start, char = {}, {}
  for cp = 0, 0xFFFF do
    local c = (cp >= 0xD800 and cp <= 0xDFFF) and "" or utf8.char(cp)
    start[#start + 1] = (cp ~= 0x3A and c ~= "" and parses("<" .. c .. "b/>", true)) and "1" or "0"
    char[#char + 1] = (cp ~= 0x3A and c ~= "" and parses("<a" .. c .. "b/>", true)) and "1" or "0"
  end
  io.write(table.concat(start), "\n", table.concat(char), "\n")
end

while true do
  local line = io.read("l")
  if line == nil then break end
  if line == "names" then
    names()
  else
    local n = tonumber(line:match("^doc (%d+)$"))
    local doc = io.read(n)
    local ok, err = parses(HEADER .. doc)
    io.write(ok and "1\n" or ("0 " .. tostring(err):gsub("\n", " ") .. "\n"))
  end
  io.flush()
end
