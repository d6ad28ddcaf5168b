#include "masker/masker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "config/veil_config.pb.h"

namespace veil::masker {
namespace {

std::shared_ptr<const MaskingProfile> DefaultProfile() {
  std::array<uint8_t, 32> k{};
  return MaskingProfile::Default(MaskKey::FromBytes(k));
}

TEST(Masker, MasksTextInPlaceOfFindings) {
  Masker m(DefaultProfile());
  std::string out;
  ASSERT_TRUE(m.MaskText("card 4111 1111 1111 1111, mail bob@example.com", &out));
  EXPECT_EQ(out, "card [CREDIT_CARD], mail [EMAIL]");
  std::string untouched = "sentinel";
  EXPECT_FALSE(m.MaskText("nothing to see here, order 12345", &untouched));
  EXPECT_EQ(untouched, "sentinel");
}

TEST(Masker, ColumnNameHintMasksWholeValue) {
  auto p = DefaultProfile();
  Masker m(p);
  ColumnPolicy phone = p->PolicyFor({.table = "users", .column = "phone"});
  std::string out;
  EXPECT_EQ(m.MaskValue(phone, "6502530000", &out), ValueOutcome::kMasked);
  EXPECT_EQ(out, "[PHONE]");
  ColumnPolicy sku = p->PolicyFor({.table = "items", .column = "sku"});
  EXPECT_EQ(m.MaskValue(sku, "6502530000", &out), ValueOutcome::kUnchanged);
  ColumnPolicy num = p->PolicyFor({.table = "t", .column = "n", .text_like = false});
  EXPECT_EQ(num.action, ColumnPolicy::Action::kPass);
}

// Columns named in other scripts say what they hold as English names do; a name or an
// address with no label in its cell is masked whole, a cell that reads as neither is not.
TEST(Masker, ColumnNamesOfOtherScripts) {
  auto p = DefaultProfile();
  Masker m(p);
  std::string out;
  const std::pair<std::string_view, std::string_view> masked[] = {
      {"姓名", "王秀英"},
      {"客户姓名", "王秀英"},
      {"고객이름", "김민준"},
      {"ФИО", "Орлов Пимен"},
      {"地址", "北京市朝阳区建国路88号"},
      {"주소", "서울특별시 강남구 테헤란로 123"},
      {"Адрес", "г. Москва, ул. Тверская, д. 7"},
  };
  for (const auto& [column, value] : masked) {
    ColumnPolicy c = p->PolicyFor({.table = "t", .column = column});
    EXPECT_EQ(m.MaskValue(c, value, &out), ValueOutcome::kMasked) << column;
  }
  ColumnPolicy addr = p->PolicyFor({.table = "t", .column = "地址"});
  EXPECT_EQ(m.MaskValue(addr, "辰男市", &out), ValueOutcome::kUnchanged);
  EXPECT_EQ(m.MaskValue(addr, "0x7ffd5e8c", &out), ValueOutcome::kUnchanged);
}

// A table of a German, French, Spanish or Nordic application names its columns in its own
// language: vorname, nachname, telefon, anschrift, geburtsdatum; a plain "nom" or "nombre" is a
// person's name in a people table (kunden, clientes, utilisateurs), as "name" is.
TEST(Masker, ColumnNamesOfOtherLanguages) {
  auto p = DefaultProfile();
  Masker m(p);
  std::string out;
  const std::tuple<std::string_view, std::string_view, std::string_view> masked[] = {
      {"t", "vorname", "Jürgen"},
      {"t", "nachname", "Weißenborn"},
      {"t", "prenom", "Zoé"},
      {"t", "apellidos", "García Zubizarreta"},
      {"t", "cognome", "Esposito"},
      {"t", "achternaam", "de Vries"},
      {"t", "nazwisko", "Wiśniewski"},
      {"t", "telefon", "3012345"},
      {"t", "telephone", "4151234"},
      {"t", "telefono_movil", "612345678"},
      {"t", "anschrift", "Höggen 10b"},
      {"t", "direccion", "Olmo 4"},
      {"t", "data_urodzenia", "12.03.1985"},
      {"kunden", "name", "Weißenborn"},
      {"clientes", "nombre", "Zubizarreta"},
      {"utilisateurs", "nom", "Lefebvre"},
  };
  for (const auto& [table, column, value] : masked) {
    ColumnPolicy c = p->PolicyFor({.table = table, .column = column});
    EXPECT_EQ(m.MaskValue(c, value, &out), ValueOutcome::kMasked) << table << "." << column;
  }
  // A product's name is not a person's, in any language.
  ColumnPolicy product = p->PolicyFor({.table = "produits", .column = "nom"});
  EXPECT_EQ(m.MaskValue(product, "Chaise", &out), ValueOutcome::kUnchanged);
  ColumnPolicy handy = p->PolicyFor({.table = "t", .column = "handy"});
  EXPECT_EQ(m.MaskValue(handy, "yes", &out), ValueOutcome::kUnchanged);
}

// The columns where systems keep password hashes: every value masked, whatever its format.
TEST(Masker, PasswordHashColumns) {
  auto p = DefaultProfile();
  Masker m(p);
  std::string out;
  const std::pair<std::string_view, std::string_view> masked[] = {
      {"user", "authentication_string"},  // MySQL's mysql.user
      {"pg_authid", "rolpassword"},      {"ldap_entries", "userPassword"}, {"accounts", "pwd"},
      {"accounts", "login_pwd"},         {"accounts", "pwhash"},
  };
  for (const auto& [table, column] : masked) {
    ColumnPolicy c = p->PolicyFor({.table = table, .column = column});
    EXPECT_EQ(m.MaskValue(c, "0c1a7e5Tz", &out), ValueOutcome::kMasked) << table << "." << column;
  }
}

TEST(Masker, RowScanMatchesPerValueScan) {
  auto p = DefaultProfile();
  Masker m(p);
  ColumnPolicy a = p->PolicyFor({.table = "t", .column = "notes"});
  ColumnPolicy b = p->PolicyFor({.table = "t", .column = "contact"});
  const ColumnPolicy* pols[] = {&a, nullptr, &b, &a};
  Masker::Cell cells[] = {{"mail bob@example.com"}, {"ignored"}, {"", true}, {"no pii"}};
  std::vector<ValueOutcome> outcomes;
  std::vector<std::string> outs;
  MaskStats stats;
  m.MaskRow(pols, cells, &outcomes, &outs, &stats);
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes[0], ValueOutcome::kMasked);
  EXPECT_EQ(outs[0], "mail [EMAIL]");
  EXPECT_EQ(outcomes[1], ValueOutcome::kUnchanged);
  EXPECT_EQ(outcomes[2], ValueOutcome::kUnchanged);
  EXPECT_EQ(outcomes[3], ValueOutcome::kUnchanged);
  EXPECT_EQ(stats.per_entity[Index(Entity::kEmail)], 1u);
}

// Unicode forms of ASCII in cells of one row, several to a 64-byte word with no line break
// between them (the proxy's batch): each cell that holds one is folded and scanned again.
TEST(Masker, UnicodeFormsInEveryCellOfARow) {
  auto p = DefaultProfile();
  Masker m(p);
  ColumnPolicy a = p->PolicyFor({.table = "t", .column = "notes"});
  const ColumnPolicy* pols[] = {&a, &a, &a, &a};
  Masker::Cell cells[] = {{"ssn 536\u2011"
                           "22\u2011"
                           "1234"},
                          {"ssn 5\u200b"
                           "36-22-1234"},
                          {"tel \u0664\u0661\u0665-\u0665\u0665\u0665-\u0660\u0661\u0663\u0662"},
                          {"ssn \uff15\uff13\uff16-22-1234"}};
  std::vector<ValueOutcome> outcomes;
  std::vector<std::string> outs;
  MaskStats stats;
  m.MaskRow(pols, cells, &outcomes, &outs, &stats);
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outs[0], "ssn [US_SSN]");
  EXPECT_EQ(outs[1], "ssn [US_SSN]");
  EXPECT_EQ(outs[2], "tel [PHONE]");
  EXPECT_EQ(outs[3], "ssn [US_SSN]");
}

// veilctl mask's path: every tab-separated cell of every line is a value of its own, wherever
// it falls against the 64-byte blocks separators are found in, empty cells and a last line
// without a newline included; nothing is found across a tab.
TEST(Masker, LinesAreCutIntoCellsAtTabsAndNewlines) {
  Masker m(DefaultProfile());
  const char* values[] = {
      "bob@example.com",    "4111 1111 1111 1111", "alpha", "", "12", "beta gamma delta", "x",
      "ann.lee@example.org"};
  std::string block, want, out;
  unsigned k = 0;
  for (int line = 0; line < 60; ++line) {
    const int cells = 1 + line % 7;
    for (int c = 0; c < cells; ++c, k = k * 7 + 3) {
      const std::string v = values[k % std::size(values)];
      if (c) block += '\t', want += '\t';
      block += v;
      want += m.MaskText(v, &out) ? out : v;
    }
    if (line < 59) block += '\n', want += '\n';
  }
  ASSERT_TRUE(m.MaskLines(block, &out));
  EXPECT_EQ(out, want);
  EXPECT_FALSE(m.MaskLines("4111 1111\t1111 1111\nbob@exa\tmple.com\n", &out));
}

// A private key over lines, as a log or a config dump holds it: every line from its header to
// its footer is key material, also when the file's blocks cut it; the lines after it are text.
TEST(Masker, PrivateKeyLinesAcrossBlocks) {
  Masker m(DefaultProfile());
  std::string out;
  bool open = false;
  ASSERT_TRUE(m.MaskLines("id 7\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n", &out,
                          nullptr, &open));
  EXPECT_EQ(out, "id 7\n[PRIVATE_KEY]\n[PRIVATE_KEY]\n");
  EXPECT_TRUE(open);
  ASSERT_TRUE(m.MaskLines("AAAAC3NzaC1lZDI1NTE5\n-----END OPENSSH PRIVATE KEY-----\nok\n", &out,
                          nullptr, &open));
  EXPECT_EQ(out, "[PRIVATE_KEY]\n[PRIVATE_KEY]\nok\n");
  EXPECT_FALSE(open);
  EXPECT_FALSE(m.MaskLines("plain line\n", &out, nullptr, &open));
  // Without the state (a row of COPY data), only the header's line is the key's.
  ASSERT_TRUE(m.MaskLines("-----BEGIN PRIVATE KEY-----\nnext row\n", &out));
  EXPECT_EQ(out, "[PRIVATE_KEY]\nnext row\n");
}

}  // namespace
}  // namespace veil::masker

// Counting allocations: the value path must not allocate when a value holds nothing.
namespace {
std::atomic<int64_t> g_news{0};
}  // namespace
void* operator new(size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace veil::masker {
namespace {

TEST(Masker, CleanValuesAllocateNothing) {
  auto p = DefaultProfile();
  Masker m(p);
  ColumnPolicy notes = p->PolicyFor({.table = "orders", .column = "notes"});
  std::string out;
  const char* values[] = {"shipped to the warehouse on time", "order 100234567 total $1,234.56",
                          "SKU-48213-XL blue widget", "2024-05-01 12:03:44+00",
                          "customer asked for a refund"};
  for (const char* v : values) m.MaskValue(notes, v, &out);  // warm up buffers
  int64_t before = g_news.load();
  for (int i = 0; i < 100; ++i)
    for (const char* v : values) EXPECT_EQ(m.MaskValue(notes, v, &out), ValueOutcome::kUnchanged);
  EXPECT_EQ(g_news.load() - before, 0);
  // And the counter sees allocations: a masked value builds its output.
  out = std::string();
  EXPECT_EQ(m.MaskValue(notes, "mail bob@example.com now", &out), ValueOutcome::kMasked);
  EXPECT_GT(g_news.load() - before, 0);
}

}  // namespace
}  // namespace veil::masker

namespace veil::masker {
namespace {

TEST(MaskingProfile, ColumnRulesMatchSchemaTableColumn) {
  config::v1::MaskingProfile cfg;
  auto* pass = cfg.add_columns();
  pass->set_match("audit.*");
  pass->set_action(config::v1::ColumnRule::ACTION_PASS);
  auto* force = cfg.add_columns();
  force->set_match("crm.people.handle");
  force->set_entity("PERSON_NAME");
  std::array<uint8_t, 32> k{};
  auto compiled = MaskingProfile::Compile(cfg, "p", MaskKey::FromBytes(k));
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<const MaskingProfile>>(compiled));
  auto p = std::get<0>(compiled);
  using A = ColumnPolicy::Action;
  EXPECT_EQ(p->PolicyFor({.schema = "audit", .table = "log", .column = "message"}).action,
            A::kPass);
  EXPECT_EQ(p->PolicyFor({.schema = "public", .table = "audit", .column = "x"}).action, A::kPass);
  EXPECT_EQ(p->PolicyFor({.schema = "public", .table = "log", .column = "message"}).action,
            A::kScan);
  auto forced = p->PolicyFor({.schema = "crm", .table = "people", .column = "handle"});
  EXPECT_EQ(forced.action, A::kForce);
  EXPECT_EQ(forced.entity, static_cast<uint8_t>(Entity::kPersonName));
  EXPECT_EQ(p->PolicyFor({.schema = "other", .table = "people", .column = "handle"}).action,
            A::kScan);
}

}  // namespace
}  // namespace veil::masker

namespace veil::masker {
namespace {

// The README demo: customers.name holds people, products.name does not.
TEST(MaskingProfile, TableSaysWhatANameColumnHolds) {
  auto p = DefaultProfile();
  Masker m(p);
  std::string out;
  for (const char* table :
       {"customers", "users", "patients", "employees", "contacts", "crm_contacts"}) {
    ColumnPolicy name = p->PolicyFor({.table = table, .column = "name"});
    EXPECT_TRUE(name.has_hint) << table;
    EXPECT_EQ(m.MaskValue(name, "Jane Doe", &out), ValueOutcome::kMasked) << table;
    EXPECT_EQ(out, "[PERSON_NAME]");
    EXPECT_EQ(m.MaskValue(name, "Bo Li", &out), ValueOutcome::kMasked) << table;
  }
  ColumnPolicy product = p->PolicyFor({.table = "products", .column = "name"});
  EXPECT_FALSE(product.has_hint);
  EXPECT_EQ(m.MaskValue(product, "Handcrafted Granite Chair", &out), ValueOutcome::kUnchanged);
}

// A column named for a place holds places: a town named as people are ("Castellar del Vallès",
// "San Víctor Manuel", "Kota Kinabalu") is no person's name there; an e-mail or a phone in it
// still is what it is.
TEST(MaskingProfile, PlaceColumnsHoldNoPersonsNames) {
  auto p = DefaultProfile();
  Masker m(p);
  std::string out;
  for (const char* column : {"city", "town", "billing_city", "country", "region", "province"}) {
    ColumnPolicy place = p->PolicyFor({.table = "customers", .column = column});
    // Towns of Ruby's Faker (above) and of PHP's Faker's es_ES, it_IT and pt_BR city().
    for (const char* town : {"Castellar del Vall\xC3\xA8s",
                             "San V\xC3\xAD"
                             "ctor Manuel",
                             "Kota Kinabalu", "Sant Pere de Ribes", "Villa Becerra del Barco",
                             "San Solorio Medio", "Settimo Filomena laziale", "San Marianita",
                             "Santa Daniella d'Oeste", "S\xC3\xA3o Kamila"})
      EXPECT_EQ(m.MaskValue(place, town, &out), ValueOutcome::kUnchanged) << column << " " << town;
    EXPECT_EQ(m.MaskValue(place, "call 415-555-0132", &out), ValueOutcome::kMasked) << column;
  }
  ColumnPolicy notes = p->PolicyFor({.table = "customers", .column = "notes"});
  EXPECT_EQ(m.MaskValue(notes, "Spoke with Kota Kinabalu", &out), ValueOutcome::kMasked);
}

// Names in free text come from the Census/SSA tables, not from a context keyword.
TEST(Masker, NamesInFreeText) {
  Masker m(DefaultProfile());
  std::string out;
  ASSERT_TRUE(m.MaskText("member Lola Rippin ssn on file", &out));
  EXPECT_EQ(out, "member [PERSON_NAME] ssn on file");
  ASSERT_TRUE(m.MaskText("Dear Autumn Halvorson, thanks", &out));
  EXPECT_EQ(out, "Dear [PERSON_NAME], thanks");
  // Hyphenated surnames after a capitalised word that starts the sentence.
  ASSERT_TRUE(m.MaskText("Patient Maria Garcia-Lopez was seen.", &out));
  EXPECT_EQ(out, "Patient [PERSON_NAME] was seen.");
  ASSERT_TRUE(m.MaskText("Called Kwame Nkrumah-Boateng yesterday", &out));
  EXPECT_EQ(out, "Called [PERSON_NAME] yesterday");
  // Names in scripts without capitals, after a person keyword.
  ASSERT_TRUE(m.MaskText("Dear Иван Петров, thanks", &out));
  EXPECT_EQ(out, "Dear [PERSON_NAME], thanks");
  ASSERT_TRUE(m.MaskText("Dear 王小明, thanks", &out));
  EXPECT_EQ(out, "Dear [PERSON_NAME], thanks");
  ASSERT_TRUE(m.MaskText("customer name: Иван Петров, thanks", &out));
  EXPECT_EQ(out, "customer name: [PERSON_NAME], thanks");
  ASSERT_TRUE(m.MaskText("full_name=王小明", &out));
  EXPECT_EQ(out, "full_name=[PERSON_NAME]");
  std::string untouched = "sentinel";
  EXPECT_FALSE(m.MaskText("Ordered a Rustic Granite Chair from Kuhn LLC in New York", &untouched));
}

// Shape first: phone-shaped numbers are phones even where no area code is assigned.
TEST(Masker, PhonesByShape) {
  Masker m(DefaultProfile());
  std::string out;
  for (const char* phone : {"(371) 628-4163", "235.578.2686", "+1 427-894-4161",
                            "+1 (284) 914 0104", "+44 20 9004 5493", "0800 462 8064"}) {
    ASSERT_TRUE(m.MaskText(std::string("call ") + phone + " today", &out)) << phone;
    EXPECT_EQ(out, "call [PHONE] today") << phone;
  }
  std::string untouched = "sentinel";
  for (const char* negative : {"order 2024-05-12 12:03:44.123+00", "v1.20.300.4", "SKU-10234-XL",
                               "total 12345.67", "zip 05549-0346", "part 000-12-3456"})
    EXPECT_FALSE(m.MaskText(negative, &untouched)) << negative;
  ASSERT_TRUE(m.MaskText("IBAN IR33 0030 0879 5007 3003 0190 09 ok", &out));
  EXPECT_EQ(out, "IBAN [IBAN] ok");
}

// A number in the cell right after a person's name, in tab-separated text where every cell is
// a value of its own (veilctl mask): the person's phone, whatever its plan. The same number
// beside no name, or with a cell between, is an id.
TEST(Masker, NumberInTheCellAfterANameIsTheirPhone) {
  Masker m(DefaultProfile());
  std::string out;
  ASSERT_TRUE(
      m.MaskLines("Sean Mendez\t2722937926\t28.93%\t2110\n"
                  "Eva Karlsson\t7950-838508\t20.63%\t2027\n"
                  "Karin Olsson\t0612345678\t6.15%\t2084\n",
                  &out));
  EXPECT_EQ(out,
            "[PERSON_NAME]\t[PHONE]\t28.93%\t2110\n"
            "[PERSON_NAME]\t[PHONE]\t20.63%\t2027\n"
            "[PERSON_NAME]\t[PHONE]\t6.15%\t2084\n");
  ASSERT_TRUE(
      m.MaskLines("Order\t2722937926\t28.93%\n"
                  "Sean Mendez\tpaid\t2722937926\n",
                  &out));
  EXPECT_EQ(out,
            "Order\t2722937926\t28.93%\n"
            "[PERSON_NAME]\tpaid\t2722937926\n");
}

}  // namespace
}  // namespace veil::masker
