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

// ---- MySQL and MariaDB ----

constexpr LexOptions kMy{.dialect = Dialect::kMySql};
LexOptions My(bool nbe, bool ansi = false) {
  LexOptions o = kMy;
  o.no_backslash_escapes = nbe;
  o.ansi_quotes = ansi;
  return o;
}

TEST(MySqlLexerTest, HashAndDashDashSpaceComments) {
  EXPECT_EQ(Lex("a # b; drop\nc", kMy), (std::vector<Tok>{{K::kWord, "a"}, {K::kWord, "c"}}));
  EXPECT_EQ(Lex("a -- b; drop\nc", kMy), (std::vector<Tok>{{K::kWord, "a"}, {K::kWord, "c"}}));
  EXPECT_EQ(Lex("a --\tb\nc", kMy), (std::vector<Tok>{{K::kWord, "a"}, {K::kWord, "c"}}));
  EXPECT_EQ(Lex("a --", kMy), (std::vector<Tok>{{K::kWord, "a"}}));
  // The server ends a line comment at \n only.
  EXPECT_EQ(Lex("a # b\r drop", kMy), (std::vector<Tok>{{K::kWord, "a"}}));
  // Without a space after it, -- is two minus signs: 1--1 is 1 - (-1).
  EXPECT_EQ(Lex("1--1", kMy),
            (std::vector<Tok>{
                {K::kNumber, "1"}, {K::kOperator, "-"}, {K::kOperator, "-"}, {K::kNumber, "1"}}));
  EXPECT_EQ(Lex("a --x; drop", kMy).size(), 6u);
}

TEST(MySqlLexerTest, BlockCommentsDoNotNest) {
  EXPECT_EQ(Lex("a /* /* */ ; delete", kMy),
            (std::vector<Tok>{{K::kWord, "a"}, {K::kSemicolon, ";"}, {K::kWord, "delete"}}));
  Lexer lex("x /* never closed", kMy);
  lex.Next();
  EXPECT_FALSE(lex.Next().terminated);
}

TEST(MySqlLexerTest, ConditionalCommentContentIsCode) {
  EXPECT_EQ(Lex("SELECT 1 /*! ; DROP TABLE t */", kMy), (std::vector<Tok>{{K::kWord, "SELECT"},
                                                                          {K::kNumber, "1"},
                                                                          {K::kSemicolon, ";"},
                                                                          {K::kWord, "DROP"},
                                                                          {K::kWord, "TABLE"},
                                                                          {K::kWord, "t"}}));
  EXPECT_EQ(Lex("a /*!50700 b */ c", kMy),
            (std::vector<Tok>{{K::kWord, "a"}, {K::kWord, "b"}, {K::kWord, "c"}}));
  EXPECT_EQ(Lex("a /*M!100100 b */ c", kMy),
            (std::vector<Tok>{{K::kWord, "a"}, {K::kWord, "b"}, {K::kWord, "c"}}));
  // A */ inside a string in the comment does not end it.
  EXPECT_EQ(Lex("/*! 'x */ y' */ z", kMy),
            (std::vector<Tok>{{K::kString, "'x */ y'"}, {K::kWord, "z"}}));
  Lexer lex("a /*! b */ c", kMy);
  EXPECT_FALSE(lex.Next().in_conditional_comment);
  EXPECT_TRUE(lex.Next().in_conditional_comment);
  EXPECT_FALSE(lex.Next().in_conditional_comment);
  EXPECT_FALSE(lex.saw_conditional_comment());  // /*! without a version always runs
}

TEST(MySqlLexerTest, VersionedCommentsAsCommentsOnAnOlderServer) {
  LexOptions old = kMy;
  old.versioned_comments_run = false;
  old.mariadb_comments_run = false;
  // A skipped versioned comment may hold one nested comment; /*M! is a plain one on MySQL.
  EXPECT_EQ(Lex("a /*!99999 /* x */ b */ c", old),
            (std::vector<Tok>{{K::kWord, "a"}, {K::kWord, "c"}}));
  EXPECT_EQ(Lex("a /*M! /* x */ b */ c", old), (std::vector<Tok>{{K::kWord, "a"},
                                                                 {K::kWord, "b"},
                                                                 {K::kOperator, "*"},
                                                                 {K::kOperator, "/"},
                                                                 {K::kWord, "c"}}));
  Lexer lex("a /*!80000 b */", kMy);
  while (lex.Next().kind != K::kEnd) {
  }
  EXPECT_TRUE(lex.saw_conditional_comment());
}

TEST(MySqlLexerTest, StringsWithBothEscapes) {
  EXPECT_EQ(Lex("'it''s' 'it\\'s' \"a\\\"b\" \"a\"\"b\"", kMy),
            (std::vector<Tok>{{K::kString, "'it''s'"},
                              {K::kString, "'it\\'s'"},
                              {K::kString, "\"a\\\"b\""},
                              {K::kString, "\"a\"\"b\""}}));
  // SELECT '\\'; DROP TABLE t; -- ': the string is '\\' in both readings.
  EXPECT_EQ(Lex("SELECT '\\\\'; DROP TABLE t; -- '", My(false)).size(), 7u);
  EXPECT_EQ(Lex("SELECT '\\\\'; DROP TABLE t; -- '", My(true)).size(), 7u);
  // SELECT '\'; DROP TABLE t; -- ': one string with escapes, a DROP without.
  std::string_view sql = "SELECT '\\'; DROP TABLE t; -- '";
  EXPECT_EQ(Lex(sql, My(false)),
            (std::vector<Tok>{{K::kWord, "SELECT"}, {K::kString, "'\\'; DROP TABLE t; -- '"}}));
  EXPECT_EQ(Lex(sql, My(true)).size(), 7u);
  Lexer on(sql, My(false));
  while (on.Next().kind != K::kEnd) {
  }
  EXPECT_TRUE(on.saw_backslash_in_string());
  // 'a\'; DROP' splits differently.
  EXPECT_EQ(Lex("'a\\'; DROP", My(false)).size(), 1u);
  EXPECT_EQ(Lex("'a\\'; DROP", My(true)),
            (std::vector<Tok>{{K::kString, "'a\\'"}, {K::kSemicolon, ";"}, {K::kWord, "DROP"}}));
}

TEST(MySqlLexerTest, AnsiQuotesMakeDoubleQuotesIdentifiers) {
  Token t = First("\"a\\\"", My(false, true));
  EXPECT_EQ(t.kind, K::kQuotedIdent);
  EXPECT_EQ(t.text, "\"a\\\"");
  EXPECT_EQ(First("\"a\"", kMy).kind, K::kString);
}

TEST(MySqlLexerTest, BacktickIdentifiers) {
  Token t = First("`we``ird;` x", kMy);
  EXPECT_EQ(t.kind, K::kQuotedIdent);
  EXPECT_EQ(t.text, "`we``ird;`");
  EXPECT_EQ(t.Body(), "we``ird;");
  // No backslash escapes in identifiers.
  EXPECT_EQ(Lex("`a\\` b", kMy), (std::vector<Tok>{{K::kQuotedIdent, "`a\\`"}, {K::kWord, "b"}}));
}

TEST(MySqlLexerTest, LiteralForms) {
  EXPECT_EQ(First("X'4142'", kMy).form, StringForm::kHex);
  EXPECT_EQ(First("b'0101'", kMy).form, StringForm::kBit);
  EXPECT_EQ(First("N'abc'", kMy).form, StringForm::kNational);
  EXPECT_EQ(Lex("0x4142 0b01 1.5e3 .5 1e+5", kMy), (std::vector<Tok>{{K::kNumber, "0x4142"},
                                                                     {K::kNumber, "0b01"},
                                                                     {K::kNumber, "1.5e3"},
                                                                     {K::kNumber, ".5"},
                                                                     {K::kNumber, "1e+5"}}));
  // Identifiers may start with a digit; 0X.. and 0x1g are identifiers.
  EXPECT_EQ(Lex("1abc 0X41 0x1g $x", kMy),
            (std::vector<Tok>{
                {K::kWord, "1abc"}, {K::kWord, "0X41"}, {K::kWord, "0x1g"}, {K::kWord, "$x"}}));
  EXPECT_EQ(Lex("_utf8mb4'x' _binary 'y'", kMy), (std::vector<Tok>{{K::kWord, "_utf8mb4"},
                                                                   {K::kString, "'x'"},
                                                                   {K::kWord, "_binary"},
                                                                   {K::kString, "'y'"}}));
  // No dollar quoting, no E'' strings.
  EXPECT_EQ(Lex("$$a$$ E'b'", kMy),
            (std::vector<Tok>{{K::kWord, "$$a$$"}, {K::kWord, "E"}, {K::kString, "'b'"}}));
}

TEST(MySqlLexerTest, Variables) {
  EXPECT_EQ(Lex("@a @'b c' @`d` @@version @@session.tx_read_only ?", kMy),
            (std::vector<Tok>{{K::kVariable, "@a"},
                              {K::kVariable, "@'b c'"},
                              {K::kVariable, "@`d`"},
                              {K::kVariable, "@@version"},
                              {K::kVariable, "@@session.tx_read_only"},
                              {K::kParam, "?"}}));
  // An account name is a string, @ and a string.
  EXPECT_EQ(Lex("'u'@'h'", kMy),
            (std::vector<Tok>{{K::kString, "'u'"}, {K::kOperator, "@"}, {K::kString, "'h'"}}));
}

TEST(MySqlLexerTest, MultibyteCharsetSwallowsBackslash) {
  // In GBK, 0xBF 0x5C is one character: the backslash escapes nothing.
  std::string_view sql = "'\xbf\\' ; DROP TABLE t; -- '";
  EXPECT_EQ(Lex(sql, kMy).size(), 1u);
  LexOptions gbk = kMy;
  gbk.multibyte_backslash = true;
  EXPECT_EQ(Lex(sql, gbk).size(), 6u);
}

TEST(MySqlLexerTest, OtherReadings) {
  EXPECT_EQ(OtherReadings(kMy, false, false).size, 0u);
  EXPECT_EQ(OtherReadings(kMy, false, true).size, 3u);
  EXPECT_EQ(OtherReadings(kMy, true, false).size, 4u);
  EXPECT_EQ(OtherReadings(kMy, true, true).size, 19u);
  for (const LexOptions& o : OtherReadings(kMy, true, true)) EXPECT_FALSE(o == kMy);
  EXPECT_EQ(OtherReadings({}, true, false).size, 1u);
  EXPECT_FALSE(OtherReadings({}, true, false).options[0].standard_conforming_strings);
}

TEST(MySqlLexerTest, RandomInputDoesNotCrash) {
  std::string alphabet = "'\"`\\/*!M#-@ \n;ax0159Ee.$?";
  alphabet.push_back('\xbf');
  unsigned seed = 1;
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    for (int i = 0; i < 40; ++i) {
      seed = seed * 1103515245 + 12345;
      s.push_back(alphabet[(seed >> 16) % alphabet.size()]);
    }
    for (const LexOptions& o : OtherReadings(kMy, true, true)) {
      Lexer lex(s, o);
      size_t last = 0;
      for (Token t = lex.Next(); t.kind != K::kEnd; t = lex.Next()) {
        ASSERT_GE(t.pos, last);
        ASSERT_LE(t.end(), s.size());
        ASSERT_FALSE(t.text.empty());
        last = t.end();
      }
    }
  }
}

}  // namespace
}  // namespace veil::sql
