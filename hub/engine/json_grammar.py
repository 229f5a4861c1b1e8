"""A llama.cpp grammar (GBNF) that holds an answer to one JSON object: Ollama's ``format: "json"``.

Whitespace between tokens is at most one space: a small model held to JSON otherwise tends to
fill its whole answer budget with blank lines, which a grammar that allows any run of
whitespace does not prevent.
"""

from __future__ import annotations

JSON_OBJECT_GRAMMAR = r"""
root    ::= object
object  ::= "{" space ( member ( "," space member )* )? "}" space
member  ::= string ":" space value
array   ::= "[" space ( value ( "," space value )* )? "]" space
value   ::= object | array | string | number | literal
literal ::= ( "true" | "false" | "null" ) space
string  ::= "\"" char* "\"" space
char    ::= [^"\\\x00-\x1f] | "\\" escape
escape  ::= ["\\/bfnrt] | "u" hex hex hex hex
hex     ::= [0-9a-fA-F]
number  ::= "-"? integer fraction? exponent? space
integer ::= "0" | [1-9] [0-9]*
fraction ::= "." [0-9]+
exponent ::= [eE] [-+]? [0-9]+
space   ::= " "?
"""
