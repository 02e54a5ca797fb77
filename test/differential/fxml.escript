#!/usr/bin/env escript
%%! -noshell
%% ejabberd's XML reader (fast_xml's fxml_stream, the expat-based parser
%% ejabberd reads a component's stream with) for privguard's differential
%% tests: "tree <n>\n<n bytes>" -> "= " and each top-level element after a
%% component stream header in expat.lua's canonical form, joined by ";"
%% (or "! <error>"). Namespaces as ejabberd's codec resolves them: an
%% element's own xmlns attribute, else its parent's namespace (the stream's for
%% a stanza); a prefixed attribute by the xmlns:prefix in scope.
-define(HEADER, <<"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='c.example.org'>">>).
-define(XML_NS, <<"http://www.w3.org/XML/1998/namespace">>).

main([Path]) ->
    true = code:add_patha(Path),
    ok = io:setopts(standard_io, [binary]),
    loop().

loop() ->
    case io:get_line(standard_io, '') of
        eof -> ok;
        Line ->
            [<<"tree">>, N] = binary:split(string:trim(Line), <<" ">>),
            Doc = read(binary_to_integer(N), <<>>),
            %% As bytes: a binary would be read as UTF-8 and written in the device's encoding (\x{...} beyond Latin-1).
            io:put_chars(standard_io, binary_to_list(iolist_to_binary(answer(Doc)))),
            loop()
    end.

read(0, Acc) -> Acc;
read(N, Acc) ->
    {ok, B} = file:read(standard_io, N),
    read(N - byte_size(B), <<Acc/binary, B/binary>>).

answer(Doc) ->
    S0 = fxml_stream:new(self(), infinity, [no_gen_server]),
    S1 = fxml_stream:parse(fxml_stream:parse(S0, ?HEADER), Doc),
    fxml_stream:close(S1),
    collect([]).

collect(Acc) ->
    receive
        {'$gen_event', {xmlstreamstart, _, _}} -> collect(Acc);
        {'$gen_event', {xmlstreamelement, El}} -> collect([form(El, <<"jabber:component:accept">>, #{}) | Acc]);
        {'$gen_event', {xmlstreamerror, {_, E}}} -> flush(), [<<"! ">>, E, <<"\n">>];
        {'$gen_event', {xmlstreamerror, E}} -> flush(), [<<"! ">>, io_lib:format("~p", [E]), <<"\n">>];
        {'$gen_event', _} -> collect(Acc);
        {xmlstreamstart, _, _} -> collect(Acc);
        {xmlstreamelement, El} -> collect([form(El, <<"jabber:component:accept">>, #{}) | Acc]);
        {xmlstreamerror, {_, E}} -> flush(), [<<"! ">>, E, <<"\n">>];
        {xmlstreamerror, E} -> flush(), [<<"! ">>, io_lib:format("~p", [E]), <<"\n">>]
    after 0 ->
        case Acc of
            [] -> <<"=\n">>;
            _ -> [<<"= ">>, lists:join(<<";">>, lists:reverse(Acc)), <<"\n">>]
        end
    end.

flush() -> receive _ -> flush() after 0 -> ok end.

form({xmlel, Name, Attrs, Children}, Inherited, Prefixes0) ->
    Ns = proplists:get_value(<<"xmlns">>, Attrs, Inherited),
    Prefixes = lists:foldl(fun({<<"xmlns:", P/binary>>, V}, M) -> M#{P => V}; (_, M) -> M end, Prefixes0, Attrs),
    Own = [attr(K, V, Prefixes) || {K, V} <- Attrs, K =/= <<"xmlns">>, not is_decl(K)],
    Kids = [child(C, Ns, Prefixes) || C <- merge(Children)],
    [<<"{">>, esc(Ns), <<"}">>, esc(Name), <<"(">>, lists:join(<<",">>, lists:sort(Own)), <<")[">>, lists:join(<<",">>, Kids), <<"]">>].

is_decl(<<"xmlns:", _/binary>>) -> true;
is_decl(_) -> false.

attr(K, V, Prefixes) ->
    Name = case binary:split(K, <<":">>) of
        [<<"xml">>, L] -> <<(?XML_NS)/binary, 1, L/binary>>;
        [P, L] -> <<(maps:get(P, Prefixes, <<"?">>))/binary, 1, L/binary>>;
        [_] -> K
    end,
    iolist_to_binary([esc(Name), <<"=">>, esc(V)]).

child({xmlcdata, T}, _, _) -> [<<"'">>, esc(T)];
child(El, Ns, Prefixes) -> form(El, Ns, Prefixes).

%% Adjacent character data as one text.
merge([{xmlcdata, A}, {xmlcdata, B} | T]) -> merge([{xmlcdata, <<A/binary, B/binary>>} | T]);
merge([H | T]) -> [H | merge(T)];
merge([]) -> [].

esc(B) -> << <<(escape(C))/binary>> || <<C>> <= B >>.
escape(C) when C < 32; C =:= 127; C =:= $%; C =:= $|; C =:= $=; C =:= $,; C =:= $;; C =:= ${; C =:= $}; C =:= $(; C =:= $) ->
    list_to_binary(io_lib:format("%~2.16.0B", [C]));
escape(C) -> <<C>>.
