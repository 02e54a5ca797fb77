-- libexpat as Prosody runs it (util/xmppstream.lua: lua-expat, namespace
-- separator "\1", comments, processing instructions and DOCTYPEs refused),
-- serving privguard's differential tests over stdin/stdout.
--   "names\n"        -> two lines of 65536 '0'/'1' per BMP code point X: whether
--                       <Xb/> parses (a name's first character), and <aXb/>
--   "doc <n>\n<n bytes>" -> "1\n" when a component stream header followed by
--                       the bytes parses, else "0 <expat's error>\n"
--   "tree <n>\n<n bytes>" -> how libexpat reads each top-level element of the
--                       bytes (after the header): "= " and the stanzas in the
--                       canonical form of tree() joined by ";" (or "! <error>")
--   "ptree <n>\n<n bytes>" -> the same, read by Prosody's own util.xmppstream
--                       (the stanza objects its modules act on), or "! none"
--                       when Prosody is not installed
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

-- Escape a string onto one line: '%', control characters and the
-- separators of the canonical form as %XX.
local function esc(str)
  return (str:gsub("[%%%c|=,;{}()]", function(c) return string.format("%%%02X", c:byte()) end))
end

-- A stanza as "{ns}local(attr=value,...)[child,...]": attributes sorted by
-- their expanded name ("uri\1local" for a prefixed one, as Prosody's parser
-- reports them), adjacent character data joined into one text child.
local function tree(doc)
  local out, stack, depth = {}, {}, 0
  local function flush()
    local top = stack[#stack]
    if top and top.text then
      top.children[#top.children + 1] = "'" .. esc(table.concat(top.text))
      top.text = nil
    end
  end
  local handlers = {
    Comment = restricted, ProcessingInstruction = restricted, StartDoctypeDecl = restricted,
    StartElement = function(_, name, attrs)
      depth = depth + 1
      if depth == 1 then return end
      flush()
      local ns, loc = name:match("^(.-)\1(.*)$")
      if not ns then ns, loc = "", name end
      local list = {}
      for i = 1, #attrs do list[#list + 1] = esc(attrs[i]) .. "=" .. esc(attrs[attrs[i]]) end
      table.sort(list)
      stack[#stack + 1] = { head = "{" .. esc(ns) .. "}" .. esc(loc) .. "(" .. table.concat(list, ",") .. ")", children = {} }
    end,
    EndElement = function()
      depth = depth - 1
      if depth == 0 then return end
      flush()
      local el = table.remove(stack)
      local s = el.head .. "[" .. table.concat(el.children, ",") .. "]"
      if #stack == 0 then out[#out + 1] = s else local p = stack[#stack]; p.children[#p.children + 1] = s end
    end,
    CharacterData = function(_, text)
      local top = stack[#stack]
      if top then top.text = top.text or {}; top.text[#top.text + 1] = text end
    end,
  }
  local p = lxp.new(handlers, "\1", false)
  local ok, res, err = pcall(p.parse, p, doc)
  pcall(p.close, p)
  if not ok then return nil, res end
  if not res then return nil, err end
  return out
end

-- Prosody's stream reader, when installed (Debian's prosody: /usr/lib/prosody).
package.path = "/usr/lib/prosody/?.lua;" .. package.path
package.cpath = "/usr/lib/prosody/?.so;" .. package.cpath
local have_xmppstream, xmppstream = pcall(require, "util.xmppstream")
local STREAM_NS, XML_NS, STREAM_LANG = "jabber:component:accept", "http://www.w3.org/XML/1998/namespace", "zz-stream"
local PHEADER = "<?xml version='1.0'?><stream:stream xmlns='" .. STREAM_NS ..
  "' xmlns:stream='http://etherx.jabber.org/streams' xml:lang='" .. STREAM_LANG .. "' to='c.example.org'>"

-- A Prosody stanza object in tree()'s form. An element without an xmlns
-- attribute is in the stream's namespace (Prosody writes one on every element
-- in another namespace and inside one); xml:lang is "xml:lang" there; the
-- xml:lang Prosody copies from the stream header onto a stanza is left out.
local function pform(el, root)
  local list = {}
  for k, v in pairs(el.attr) do
    if k ~= "xmlns" and not (root and k == "xml:lang" and v == STREAM_LANG) then
      local x = k:match("^xml:(.*)$")
      list[#list + 1] = esc(x and (XML_NS .. "\1" .. x) or k) .. "=" .. esc(v)
    end
  end
  table.sort(list)
  local children = {}
  for _, c in ipairs(el) do
    children[#children + 1] = type(c) == "string" and ("'" .. esc(c)) or pform(c, false)
  end
  return "{" .. esc(el.attr.xmlns or STREAM_NS) .. "}" .. esc(el.name) .. "(" .. table.concat(list, ",") .. ")[" .. table.concat(children, ",") .. "]"
end

local function ptree(doc)
  if not have_xmppstream then return nil, "none" end
  local out, failure = {}, nil
  local session = { notopen = true }
  local stream = xmppstream.new(session, {
    default_ns = STREAM_NS,
    streamopened = function(s) s.notopen = nil end,
    handlestanza = function(_, stanza) out[#out + 1] = pform(stanza, true) end,
    error = function(_, e, d) failure = failure or (tostring(e) .. " " .. tostring(d)) end,
  })
  local ok, err = stream:feed(PHEADER .. doc)
  if failure then return nil, failure end
  if not ok then return nil, tostring(err) end
  return out
end

while true do
  local line = io.read("l")
  if line == nil then break end
  if line == "names" then
    names()
  elseif line:match("^p?tree ") then
    local p, n = line:match("^(p?)tree (%d+)$")
    local doc = io.read(tonumber(n))
    local out, err
    if p == "p" then out, err = ptree(doc) else out, err = tree(HEADER .. doc) end
    if out then
      io.write(#out == 0 and "=\n" or ("= " .. table.concat(out, ";") .. "\n"))
    else
      io.write("! ", (tostring(err):gsub("\n", " ")), "\n")
    end
  else
    local n = tonumber(line:match("^doc (%d+)$"))
    local doc = io.read(n)
    local ok, err = parses(HEADER .. doc)
    io.write(ok and "1\n" or ("0 " .. tostring(err):gsub("\n", " ") .. "\n"))
  end
  io.flush()
end
