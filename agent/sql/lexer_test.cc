#include "agent/sql/lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace veil::sql {
namespace {

struct Tok {
  TokenKind kind;
  std::string text;
  bool operator==(const Tok&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Tok& t) {
  return os << "{" << static_cast<int>(t.kind) << ", \"" << t.text << "\"}";
}

std::vector<Tok> Lex(std::string_view sql, LexOptions options = {}) {
  std::vector<Tok> out;
  Lexer lex(sql, options);
  for (Token t = lex.Next(); t.kind != TokenKind::kEnd; t = lex.Next())
    out.push_back({t.kind, std::string(t.text)});
  return out;
}

Token First(std::string_view sql, LexOptions options = {}) { return Lexer(sql, options).Next(); }

using K = TokenKind;

TEST(LexerTest, WordsKeywordsAndPositions) {
  Lexer lex("  SeLeCt foo$1 _x\xc3\xa9");
  Token t = lex.Next();
  EXPECT_EQ(t.kind, K::kWord);
  EXPECT_EQ(t.pos, 2u);
  EXPECT_EQ(t.text, "SeLeCt");
  EXPECT_EQ(t.keyword, "select");
  EXPECT_TRUE(t.Is("select"));
  t = lex.Next();
  EXPECT_EQ(t.text, "foo$1");  // '$' continues an identifier
  EXPECT_TRUE(t.keyword.empty());
  EXPECT_EQ(lex.Next().text, "_x\xc3\xa9");
  EXPECT_EQ(lex.Next().kind, K::kEnd);
  EXPECT_EQ(lex.Next().kind, K::kEnd);
}

TEST(LexerTest, LineComments) {
  EXPECT_EQ(Lex("a -- b; drop\nc"), (std::vector<Tok>{{K::kWord, "a"}, {K::kWord, "c"}}));
  EXPECT_EQ(Lex("a --x\rc"), (std::vector<Tok>{{K::kWord, "a"}, {K::kWord, "c"}}));
  EXPECT_EQ(Lex("a -- to the end ; delete"), (std::vector<Tok>{{K::kWord, "a"}}));
}

TEST(LexerTest, NestedBlockComments) {
  EXPECT_EQ(Lex("a /* x /* y */ ; delete */ b"),
            (std::vector<Tok>{{K::kWord, "a"}, {K::kWord, "b"}}));
  // A C lexer would end the comment at the first */ and see `; delete`.
  EXPECT_EQ(Lex("a /* /* */ ; delete"), (std::vector<Tok>{{K::kWord, "a"}}));
  Lexer lex("x /* never closed");
  lex.Next();
  Token end = lex.Next();
  EXPECT_EQ(end.kind, K::kEnd);
  EXPECT_FALSE(end.terminated);
}

TEST(LexerTest, PlainStrings) {
  EXPECT_EQ(
      Lex("'a;b' 'it''s; x' ''"),
      (std::vector<Tok>{{K::kString, "'a;b'"}, {K::kString, "'it''s; x'"}, {K::kString, "''"}}));
  Token t = First("'it''s'");
  EXPECT_EQ(t.form, StringForm::kPlain);
  EXPECT_EQ(t.Body(), "it''s");
  // A backslash is an ordinary character with standard_conforming_strings on...
  Lexer on("'a\\'; drop");
  EXPECT_EQ(on.Next().text, "'a\\'");
  EXPECT_EQ(on.Next().kind, K::kSemicolon);
  EXPECT_TRUE(on.saw_backslash_in_string());
  // ...and escapes the quote with it off.
  Token off = First("'a\\'; drop'", {.standard_conforming_strings = false});
  EXPECT_EQ(off.text, "'a\\'; drop'");
  Lexer clean("'abc'");
  clean.Next();
  EXPECT_FALSE(clean.saw_backslash_in_string());
}

TEST(LexerTest, UnterminatedString) {
  Token t = First("'abc; delete from t");
  EXPECT_EQ(t.kind, K::kString);
  EXPECT_FALSE(t.terminated);
  EXPECT_EQ(t.text, "'abc; delete from t");
  EXPECT_EQ(t.Body(), "abc; delete from t");
}

TEST(LexerTest, EscapeStrings) {
  EXPECT_EQ(Lex("E'a\\'; drop' x"),
            (std::vector<Tok>{{K::kString, "E'a\\'; drop'"}, {K::kWord, "x"}}));
  EXPECT_EQ(Lex("e'\\\\' x"), (std::vector<Tok>{{K::kString, "e'\\\\'"}, {K::kWord, "x"}}));
  EXPECT_EQ(Lex("E'it''s'"), (std::vector<Tok>{{K::kString, "E'it''s'"}}));
  EXPECT_EQ(First("E'x'").form, StringForm::kEscape);
  EXPECT_EQ(First("E'x'").Body(), "x");
  // Only a lone E prefixes a string: `ae` is an identifier, then a plain string.
  EXPECT_EQ(Lex("ae'\\'; x"),
            (std::vector<Tok>{
                {K::kWord, "ae"}, {K::kString, "'\\'"}, {K::kSemicolon, ";"}, {K::kWord, "x"}}));
  // E then a space is a word and a plain string.
  EXPECT_EQ(Lex("E 'a'"), (std::vector<Tok>{{K::kWord, "E"}, {K::kString, "'a'"}}));
}

TEST(LexerTest, BitHexNationalStrings) {
  EXPECT_EQ(First("B'0101'").form, StringForm::kBit);
  EXPECT_EQ(First("x'ff;'").form, StringForm::kHex);
  EXPECT_EQ(First("x'ff;'").text, "x'ff;'");
  EXPECT_EQ(First("N'caf\xc3\xa9;'").form, StringForm::kNational);
  EXPECT_EQ(First("N'it''s'").text, "N'it''s'");
}

TEST(LexerTest, UnicodeStringsAndIdentifiers) {
  Token s = First("U&'d\\0061t;a' x");
  EXPECT_EQ(s.kind, K::kString);
  EXPECT_EQ(s.form, StringForm::kUnicode);
  EXPECT_EQ(s.text, "U&'d\\0061t;a'");
  EXPECT_EQ(s.Body(), "d\\0061t;a");
  // UESCAPE belongs to the token.
  EXPECT_EQ(Lex("u&'d!0061t' UESCAPE '!' , y"),
            (std::vector<Tok>{
                {K::kString, "u&'d!0061t' UESCAPE '!'"}, {K::kComma, ","}, {K::kWord, "y"}}));
  EXPECT_EQ(First("u&'d!0061''t' UESCAPE '!'").Body(), "d!0061''t");
  Token id = First("U&\"d\\0061t\"\"a\"");
  EXPECT_EQ(id.kind, K::kQuotedIdent);
  EXPECT_EQ(id.form, StringForm::kUnicode);
  EXPECT_EQ(id.Body(), "d\\0061t\"\"a");
  // U & ' with spaces is three tokens.
  EXPECT_EQ(Lex("U & 'x'"),
            (std::vector<Tok>{{K::kWord, "U"}, {K::kOperator, "&"}, {K::kString, "'x'"}}));
}

TEST(LexerTest, DollarQuoting) {
  EXPECT_EQ(Lex("$$a; 'b' \"c\" -- d$$ x"),
            (std::vector<Tok>{{K::kString, "$$a; 'b' \"c\" -- d$$"}, {K::kWord, "x"}}));
  Token t = First("$fn$ BEGIN; DELETE FROM t; END $fn$");
  EXPECT_EQ(t.form, StringForm::kDollar);
  EXPECT_EQ(t.Body(), " BEGIN; DELETE FROM t; END ");
  // Another tag inside does not end the string; the same tag does.
  EXPECT_EQ(Lex("$a$ $b$ ; $b$ $a$;"),
            (std::vector<Tok>{{K::kString, "$a$ $b$ ; $b$ $a$"}, {K::kSemicolon, ";"}}));
  EXPECT_EQ(Lex("$a$ x $b$a$ y"), (std::vector<Tok>{{K::kString, "$a$ x $b$a$"}, {K::kWord, "y"}}));
  // Tags are case-sensitive.
  EXPECT_EQ(First("$A$ $a$ ; $A$").text, "$A$ $a$ ; $A$");
  // $1 is a parameter, not a quote; '$' inside an identifier is not a quote either.
  EXPECT_EQ(Lex("$1 + a$b$c"),
            (std::vector<Tok>{{K::kParam, "$1"}, {K::kOperator, "+"}, {K::kWord, "a$b$c"}}));
  Token open = First("$x$ never closed; drop");
  EXPECT_FALSE(open.terminated);
  EXPECT_EQ(open.Body(), " never closed; drop");
  EXPECT_EQ(Lex("$x;"),
            (std::vector<Tok>{{K::kOther, "$"}, {K::kWord, "x"}, {K::kSemicolon, ";"}}));
}

TEST(LexerTest, QuotedIdentifiers) {
  EXPECT_EQ(Lex("\"DELETE\" \"a\"\"; b\""),
            (std::vector<Tok>{{K::kQuotedIdent, "\"DELETE\""}, {K::kQuotedIdent, "\"a\"\"; b\""}}));
  Token t = First("\"DELETE\"");
  EXPECT_FALSE(t.Is("delete"));
  EXPECT_EQ(t.Body(), "DELETE");
  EXPECT_FALSE(First("\"x; y").terminated);
}

TEST(LexerTest, NumbersOperatorsPunctuation) {
  EXPECT_EQ(Lex("1 1.5 .5 1e10 1.5e-3 0x1F 1_000 1..2"), (std::vector<Tok>{{K::kNumber, "1"},
                                                                           {K::kNumber, "1.5"},
                                                                           {K::kNumber, ".5"},
                                                                           {K::kNumber, "1e10"},
                                                                           {K::kNumber, "1.5e-3"},
                                                                           {K::kNumber, "0x1F"},
                                                                           {K::kNumber, "1_000"},
                                                                           {K::kNumber, "1"},
                                                                           {K::kDot, "."},
                                                                           {K::kNumber, ".2"}}));
  EXPECT_EQ(Lex("a::int<>b(c)[1],d;e.f:g"), (std::vector<Tok>{{K::kWord, "a"},
                                                              {K::kOperator, "::"},
                                                              {K::kWord, "int"},
                                                              {K::kOperator, "<>"},
                                                              {K::kWord, "b"},
                                                              {K::kLParen, "("},
                                                              {K::kWord, "c"},
                                                              {K::kRParen, ")"},
                                                              {K::kLBracket, "["},
                                                              {K::kNumber, "1"},
                                                              {K::kRBracket, "]"},
                                                              {K::kComma, ","},
                                                              {K::kWord, "d"},
                                                              {K::kSemicolon, ";"},
                                                              {K::kWord, "e"},
                                                              {K::kDot, "."},
                                                              {K::kWord, "f"},
                                                              {K::kColon, ":"},
                                                              {K::kWord, "g"}}));
  // An operator stops where a comment starts.
  EXPECT_EQ(Lex("1 +-- x\n2"),
            (std::vector<Tok>{{K::kNumber, "1"}, {K::kOperator, "+"}, {K::kNumber, "2"}}));
  EXPECT_EQ(Lex("1 */* ; */ 2"),
            (std::vector<Tok>{{K::kNumber, "1"}, {K::kOperator, "*"}, {K::kNumber, "2"}}));
}

TEST(LexerTest, StartsMidInput) {
  std::string_view sql = "select 1; delete from t";
  Lexer lex(sql, {}, 10);
  EXPECT_TRUE(lex.Next().Is("delete"));
}

}  // namespace
}  // namespace veil::sql
