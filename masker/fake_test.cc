// The `fake` strategy: determinism, key dependence, validity and format of its surrogates.
#include "masker/fake.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "config/veil_config.pb.h"
#include "masker/masker.h"
#include "masker/names.h"
#include "masker/profile.h"
#include "masker/strategy.h"

namespace veil::masker {
namespace {

std::shared_ptr<const MaskKey> KeyOf(uint8_t seed) {
  std::array<uint8_t, 32> k{};
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i * 7 + seed);
  return MaskKey::FromBytes(k);
}

std::string Fake(Entity e, std::string_view v, uint8_t key = 1, fake::Options o = {}) {
  StrategyApplier a(KeyOf(key), o);
  std::string out;
  a.Apply(Strategy::kFake, static_cast<uint8_t>(e), kBuiltinEntityNames[Index(e)], v, &out);
  return out;
}

std::string Hash(Entity e, std::string_view v, uint8_t key = 1) {
  StrategyApplier a(KeyOf(key));
  std::string out;
  a.Apply(Strategy::kHash, static_cast<uint8_t>(e), kBuiltinEntityNames[Index(e)], v, &out);
  return out;
}

std::string DigitsOf(std::string_view s) {
  std::string d;
  for (char c : s)
    if (c >= '0' && c <= '9') d.push_back(c);
  return d;
}

// Non-digits in the same places: separators, parentheses, '+' as written.
std::string Shape(std::string_view s) {
  std::string d;
  for (char c : s) d.push_back(c >= '0' && c <= '9' ? '9' : c);
  return d;
}

TEST(Fake, NamedInConfigAndBack) {
  EXPECT_EQ(StrategyFromName("fake"), Strategy::kFake);
  EXPECT_EQ(StrategyName(Strategy::kFake), "fake");
}

TEST(Fake, DeterministicAndKeyed) {
  for (auto [e, v] :
       std::vector<std::pair<Entity, std::string>>{{Entity::kPersonName, "Margaret Okonkwo"},
                                                   {Entity::kEmail, "margaret.okonkwo@gmail.com"},
                                                   {Entity::kPhone, "(415) 867-5309"},
                                                   {Entity::kCreditCard, "4111 1111 1111 1111"},
                                                   {Entity::kUsSsn, "536-22-1234"},
                                                   {Entity::kIban, "DE89 3704 0044 0532 0130 00"},
                                                   {Entity::kDateOfBirth, "1984-07-19"}}) {
    std::string a = Fake(e, v);
    EXPECT_EQ(a, Fake(e, v)) << v;     // same key, same value: same surrogate
    EXPECT_NE(a, v) << v;              // never the value itself
    EXPECT_NE(a, Fake(e, v, 2)) << v;  // another key: another surrogate
    EXPECT_LE(a.size(), v.size()) << v << " -> " << a;
  }
  // Another value, another surrogate (names: the whole value is the key).
  EXPECT_NE(Fake(Entity::kEmail, "a.b@gmail.com"), Fake(Entity::kEmail, "a.c@gmail.com"));
}

TEST(Fake, PersonNamesComeFromTheTableInTheOriginalsCase) {
  std::string n = Fake(Entity::kPersonName, "Margaret Okonkwo");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(n, m, std::regex("([A-Z][a-z]+) ([A-Z][a-z]+)"))) << n;
  EXPECT_GE(names::Lookup(m[1].str()).given, 2) << n;
  EXPECT_GE(names::Lookup(m[2].str()).surname, 2) << n;
  EXPECT_TRUE(std::regex_match(Fake(Entity::kPersonName, "OKONKWO, MARGARET"),
                               std::regex("[A-Z]+, [A-Z]+")));
  EXPECT_TRUE(std::regex_match(Fake(Entity::kPersonName, "Dr. Jane Q. Public"),
                               std::regex("Dr\\. [A-Z][a-z]+ [A-Z]\\. [A-Z][a-z]+")))
      << Fake(Entity::kPersonName, "Dr. Jane Q. Public");
  // A single word: a given name stays a given name, a surname a surname.
  EXPECT_GE(names::Lookup(Fake(Entity::kPersonName, "Jennifer")).given, 2);
  EXPECT_GE(names::Lookup(Fake(Entity::kPersonName, "Johnson")).surname, 2);
  EXPECT_LE(Fake(Entity::kPersonName, "Al Li").size(), 5u);
}

TEST(Fake, EmailsAtReservedDomains) {
  for (std::string v : {"margaret.okonkwo@gmail.com", "t.lindqvist@example.org", "bob@corp.io",
                        "x@y.z", "a.very.long.address.of.someone@subdomain.company.co.uk"}) {
    std::string e = Fake(Entity::kEmail, v);
    EXPECT_TRUE(std::regex_match(e, std::regex("[a-z._]+[0-9]{4,}@example\\.(com|org|net)"))) << e;
    EXPECT_LE(e.size(), std::max(v.size(), fake::kMinEmailLength)) << v << " -> " << e;
  }
}

TEST(Fake, PhonesInTheFictionalRangeAsWritten) {
  for (std::string v : {"(415) 867-5309", "415.867.5309", "+1 (284) 914 0104", "1-800-555-1234",
                        "4158675309", "+1-415-867-5309"}) {
    std::string p = Fake(Entity::kPhone, v);
    EXPECT_EQ(Shape(p), Shape(v)) << v << " -> " << p;
    std::string d = DigitsOf(p);
    if (d.size() == 11) {
      EXPECT_EQ(d[0], '1');
      d = d.substr(1);
    }
    ASSERT_EQ(d.size(), 10u);
    EXPECT_EQ(d.substr(3, 5), "55501") << p;
    EXPECT_GE(d[0], '2');
  }
  // Not NANP: the hash strategy's output.
  EXPECT_EQ(Fake(Entity::kPhone, "+44 20 7946 0958"), Hash(Entity::kPhone, "+44 20 7946 0958"));
}

TEST(Fake, CardsLuhnValidWithTheIssuersPrefix) {
  for (std::string v : {"4111 1111 1111 1111", "5500-0000-0000-0004", "3782 822463 10005",
                        "6011000990139424", "2221000000000009", "3530111333300000"}) {
    std::string c = Fake(Entity::kCreditCard, v);
    EXPECT_EQ(Shape(c), Shape(v)) << v << " -> " << c;
    std::string d = DigitsOf(c), o = DigitsOf(v);
    EXPECT_TRUE(fake::LuhnValid(d)) << c;
    EXPECT_NE(d, o);
    const bool four = o.starts_with("6011") || o[0] == '2' || o.starts_with("35");
    size_t keep = o[0] == '4' ? 1 : four ? 4 : 2;
    EXPECT_EQ(d.substr(0, keep), o.substr(0, keep)) << v << " -> " << c;
  }
}

TEST(Fake, SsnsNeverIssued) {
  for (std::string v : {"536-22-1234", "078051120", "219 09 9999"}) {
    std::string s = Fake(Entity::kUsSsn, v);
    EXPECT_EQ(Shape(s), Shape(v)) << s;
    std::string d = DigitsOf(s);
    EXPECT_EQ(d[0], '9') << s;  // area 900-999
    int group = std::stoi(d.substr(3, 2));
    EXPECT_TRUE(group >= 1 &&
                (group < 50 || (group >= 66 && group <= 69) || group == 89 || group == 93))
        << s;  // not an ITIN group
    EXPECT_NE(d.substr(5), "0000");
  }
}

TEST(Fake, IbansKeepCountryAndLengthWithValidCheckDigits) {
  for (std::string v : {"DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432",
                        "FR1420041010050500013M02606", "NL91 ABNA 0417 1643 00"}) {
    ASSERT_TRUE(fake::IbanValid(v)) << v;
    std::string i = Fake(Entity::kIban, v);
    EXPECT_EQ(i.size(), v.size());
    EXPECT_EQ(i.substr(0, 2), v.substr(0, 2));
    EXPECT_TRUE(fake::IbanValid(i)) << i;
    EXPECT_NE(i, v);
    for (size_t k = 0; k < v.size(); ++k) {
      EXPECT_EQ(v[k] == ' ', i[k] == ' ');
      EXPECT_EQ(std::isdigit(static_cast<unsigned char>(v[k])) != 0,
                std::isdigit(static_cast<unsigned char>(i[k])) != 0)
          << i;
    }
  }
}

TEST(Fake, DatesShiftWithinTheWindowInTheirFormat) {
  auto check = [](std::string v, std::string re, uint32_t window = 30) {
    std::string d = Fake(Entity::kDateOfBirth, v, 1, {.date_shift_days = window});
    EXPECT_TRUE(std::regex_match(d, std::regex(re))) << v << " -> " << d;
    EXPECT_NE(d, v);
    return d;
  };
  check("1984-07-19", "198[34]-[01][0-9]-[0-3][0-9]");
  check("07/19/1984", "[01][0-9]/[0-3][0-9]/198[34]");
  check("19.07.1984", "[0-3][0-9]\\.[01][0-9]\\.198[34]");
  check("July 19, 1984", "(June|July|August) [0-9]{1,2}, 1984");
  check("19 JUL 1984", "[0-9]{1,2} (JUN|JUL|AUG) 1984");
  check("19840719", "1984[01][0-9][0-3][0-9]");
  // Within +-N days: 1984-01-01 with N = 3 lands on 1983-12-29..1984-01-04, never itself.
  std::set<std::string> seen;
  for (int i = 0; i < 40; ++i) {
    StrategyApplier a(KeyOf(static_cast<uint8_t>(i)), {.date_shift_days = 3});
    std::string out;
    a.Apply(Strategy::kFake, static_cast<uint8_t>(Entity::kDateOfBirth), "DATE_OF_BIRTH",
            "1984-01-01", &out);
    EXPECT_TRUE(std::regex_match(out, std::regex("1983-12-(29|30|31)|1984-01-0[234]"))) << out;
    seen.insert(out);
  }
  EXPECT_GE(seen.size(), 4u);  // both directions, several distances
  // Not a date this module reads: the hash strategy's output.
  EXPECT_EQ(Fake(Entity::kDateOfBirth, "1984-02-30"), Hash(Entity::kDateOfBirth, "1984-02-30"));
}

TEST(Fake, OtherEntitiesFallBackToHash) {
  EXPECT_EQ(Fake(Entity::kIpAddress, "203.0.113.7"), Hash(Entity::kIpAddress, "203.0.113.7"));
  EXPECT_EQ(Fake(Entity::kUkNino, "QQ 12 34 56 C"), Hash(Entity::kUkNino, "QQ 12 34 56 C"));
}

TEST(Fake, LargeSpacesDoNotCollide) {
  // 100k distinct emails and cards: the surrogate spaces (~10^12 and ~10^14) make a collision
  // among them unlikely (expected < 0.1); fake_collisions measures 1M of every entity.
  StrategyApplier a(KeyOf(1));
  std::set<std::string> emails, cards;
  std::string out;
  for (int i = 0; i < 100000; ++i) {
    out.clear();
    a.Apply(Strategy::kFake, static_cast<uint8_t>(Entity::kEmail), "EMAIL",
            "customer" + std::to_string(i) + "@corp-mail.com", &out);
    emails.insert(out);
    out.clear();
    char card[20];
    std::snprintf(card, sizeof(card), "4%015d", i);
    a.Apply(Strategy::kFake, static_cast<uint8_t>(Entity::kCreditCard), "CREDIT_CARD", card, &out);
    cards.insert(out);
  }
  EXPECT_GE(emails.size(), 99999u);
  EXPECT_GE(cards.size(), 99999u);
}

// ---- uniqueness: the registry (fake_registry.h) --------------------------------------------

// A NANP number in 3-3-4 dashed form for i (distinct i, distinct numbers).
std::string PhoneOf(int i) {
  char b[16];
  std::snprintf(b, sizeof(b), "%03d-%03d-%04d", 200 + i % 800, 200 + (i / 800) % 800,
                (i / 640000) % 10000);
  return b;
}

struct Applied {
  std::vector<std::string> outs;
  std::set<std::string> distinct;
};

Applied ApplyAll(StrategyApplier& a, Entity e, const std::vector<std::string>& values) {
  Applied r;
  for (const std::string& v : values) {
    std::string out;
    a.Apply(Strategy::kFake, static_cast<uint8_t>(e), kBuiltinEntityNames[Index(e)], v, &out);
    r.distinct.insert(out);
    r.outs.push_back(std::move(out));
  }
  return r;
}

TEST(FakeUnique, WithoutARegistrySmallSpacesCollide) {
  // The reason the registry exists: 20,000 distinct phones drawn from ~79,000 fictional lines
  // share surrogates (birthday bound: about 2,300 pairs).
  std::vector<std::string> phones;
  for (int i = 0; i < 20000; ++i) phones.push_back(PhoneOf(i));
  StrategyApplier a(KeyOf(1));
  EXPECT_LT(ApplyAll(a, Entity::kPhone, phones).distinct.size(), 19000u);
}

TEST(FakeUnique, DistinctOriginalsGetDistinctSurrogates) {
  fake::Options o;
  o.registry = std::make_shared<fake::SurrogateRegistry>();
  StrategyApplier a(KeyOf(1), o);
  // More phones than the fictional range holds (~79,000 lines): the rest move to other 555
  // lines, still never a subscriber's number.
  std::vector<std::string> phones;
  for (int i = 0; i < 120000; ++i) phones.push_back(PhoneOf(i));
  Applied p = ApplyAll(a, Entity::kPhone, phones);
  EXPECT_EQ(p.distinct.size(), phones.size());
  size_t fictional = 0;
  for (const std::string& s : p.outs) {
    ASSERT_EQ(Shape(s), "999-999-9999") << s;
    ASSERT_EQ(s.substr(4, 3), "555") << s;
    ASSERT_NE(s.substr(8), "1212") << s;
    fictional += s.substr(8, 2) == "01";
  }
  EXPECT_GT(fictional, 60000u);  // the fictional lines are used first
  EXPECT_GT(o.registry->moved(), 0u);
  EXPECT_EQ(o.registry->unchecked(), 0u);

  std::vector<std::string> ssns, names;
  for (int i = 0; i < 60000; ++i) {
    char b[12];
    std::snprintf(b, sizeof(b), "%03d-%02d-%04d", 1 + i % 665, 1 + (i / 665) % 99, 1 + i % 9999);
    ssns.push_back(b);
    std::string given = "A", surname = "B";  // capitalised words spelling i in base 26
    for (int k = i; k > 0; k /= 26) given.push_back(static_cast<char>('a' + k % 26));
    for (int k = i * 7 + 3; k > 0; k /= 26) surname.push_back(static_cast<char>('a' + k % 26));
    names.push_back(given + " " + surname);
  }
  EXPECT_EQ(ApplyAll(a, Entity::kUsSsn, ssns).distinct.size(), ssns.size());
  EXPECT_EQ(ApplyAll(a, Entity::kPersonName, names).distinct.size(), names.size());
  EXPECT_EQ(o.registry->unchecked(), 0u);
}

TEST(FakeUnique, AnOriginalKeepsItsSurrogateInEverySession) {
  // Two sessions (appliers) of one profile share the registry: a value that had to move gets
  // the same surrogate wherever it appears again (a foreign key to a UNIQUE column holds).
  fake::Options o;
  o.registry = std::make_shared<fake::SurrogateRegistry>();
  StrategyApplier customers(KeyOf(1), o), orders(KeyOf(1), o);
  std::vector<std::string> phones;
  for (int i = 0; i < 30000; ++i) phones.push_back(PhoneOf(i));
  Applied first = ApplyAll(customers, Entity::kPhone, phones);
  ASSERT_GT(o.registry->moved(), 0u);
  std::vector<std::string> reversed(phones.rbegin(), phones.rend());
  Applied again = ApplyAll(orders, Entity::kPhone, reversed);
  for (size_t i = 0; i < phones.size(); ++i)
    ASSERT_EQ(again.outs[phones.size() - 1 - i], first.outs[i]) << phones[i];
  // A fresh registry with the same key and the same order gives the same copy.
  fake::Options o2;
  o2.registry = std::make_shared<fake::SurrogateRegistry>();
  StrategyApplier rerun(KeyOf(1), o2);
  EXPECT_EQ(ApplyAll(rerun, Entity::kPhone, phones).outs, first.outs);
}

TEST(FakeUnique, ValuesSeenAgainGetTheSameSurrogateFromTheCache) {
  // The applier keeps recent surrogates by MAC: a second pass (all hits for the names, some
  // for the phones) must give exactly what the first gave, and what another applier computes.
  fake::Options o;
  o.registry = std::make_shared<fake::SurrogateRegistry>();
  StrategyApplier a(KeyOf(3), o);
  std::vector<std::string> phones, names;
  for (int i = 0; i < 9000; ++i) phones.push_back(PhoneOf(i));
  for (const char* n : {"Jane Doe", "John Roe", "Margaret Okonkwo", "Aiko Tanaka"})
    names.push_back(n);
  Applied p1 = ApplyAll(a, Entity::kPhone, phones), n1 = ApplyAll(a, Entity::kPersonName, names);
  Applied p2 = ApplyAll(a, Entity::kPhone, phones), n2 = ApplyAll(a, Entity::kPersonName, names);
  EXPECT_EQ(p1.outs, p2.outs);
  EXPECT_EQ(n1.outs, n2.outs);
  StrategyApplier other(KeyOf(3), o);
  EXPECT_EQ(ApplyAll(other, Entity::kPhone, phones).outs, p1.outs);
  // The same MAC fingerprint slot, another entity: not a hit.
  EXPECT_NE(Fake(Entity::kEmail, "Jane Doe", 3), n1.outs[0]);
}

TEST(FakeUnique, AFullRegistryStillMasksAndCountsWhatItCouldNotCheck) {
  fake::Options o;
  o.registry = std::make_shared<fake::SurrogateRegistry>(/*max_slots=*/1024 * 16);
  StrategyApplier a(KeyOf(1), o);
  std::vector<std::string> phones;
  for (int i = 0; i < 20000; ++i) phones.push_back(PhoneOf(i));
  Applied p = ApplyAll(a, Entity::kPhone, phones);
  EXPECT_GT(o.registry->unchecked(), 0u);
  EXPECT_LE(o.registry->size(), 1024u * 16);
  for (size_t i = 0; i < phones.size(); ++i) {
    ASSERT_EQ(p.outs[i].substr(4, 3), "555");
    ASSERT_NE(p.outs[i], phones[i]);
  }
}

TEST(FakeUnique, ProfilesKeepARegistryAndDatesStayOutOfIt) {
  config::v1::MaskingProfile cfg;
  (*cfg.mutable_strategies())["default"] = config::v1::MaskingProfile::STRATEGY_FAKE;
  auto compiled = MaskingProfile::Compile(cfg, "masking.profiles.p", KeyOf(1));
  ASSERT_TRUE((std::holds_alternative<std::shared_ptr<const MaskingProfile>>(compiled)));
  auto profile = std::get<0>(compiled);
  ASSERT_NE(profile->fake_options().registry, nullptr);
  StrategyApplier a(profile->key(), profile->fake_options());
  std::string out;
  a.Apply(Strategy::kFake, static_cast<uint8_t>(Entity::kDateOfBirth), "DATE_OF_BIRTH",
          "1983-02-11", &out);
  EXPECT_EQ(profile->fake_options().registry->size(), 0u);
  a.Apply(Strategy::kFake, static_cast<uint8_t>(Entity::kPhone), "PHONE", "415-867-5309", &out);
  EXPECT_EQ(profile->fake_options().registry->size(), 1u);
  // A reload compiles the profile again with the registry it had (agent/server.cc): what was
  // claimed before stays claimed.
  auto again = MaskingProfile::Compile(cfg, "masking.profiles.p", KeyOf(1),
                                       profile->fake_options().registry);
  ASSERT_TRUE((std::holds_alternative<std::shared_ptr<const MaskingProfile>>(again)));
  EXPECT_EQ(std::get<0>(again)->fake_options().registry, profile->fake_options().registry);
  EXPECT_EQ(std::get<0>(again)->fake_options().registry->size(), 1u);
}

}  // namespace
}  // namespace veil::masker

namespace veil::masker {
namespace {

TEST(Fake, ThroughACompiledProfile) {
  config::v1::MaskingProfile cfg;
  (*cfg.mutable_strategies())["default"] = config::v1::MaskingProfile::STRATEGY_FAKE;
  cfg.set_date_shift_days(2);
  auto* rule = cfg.add_columns();
  rule->set_match("*.born");
  rule->set_entity("DATE_OF_BIRTH");
  auto compiled = MaskingProfile::Compile(cfg, "masking.profiles.p", KeyOf(1));
  ASSERT_TRUE((std::holds_alternative<std::shared_ptr<const MaskingProfile>>(compiled)));
  auto profile = std::get<0>(compiled);
  Masker m(profile);
  std::string out;
  ColumnPolicy born = profile->PolicyFor({.table = "people", .column = "born"});
  ASSERT_EQ(m.MaskValue(born, "2000-03-01", &out), ValueOutcome::kMasked);
  EXPECT_TRUE(std::regex_match(out, std::regex("2000-0(2-2[89]|3-0[23])"))) << out;
  // A free-text column: the address inside is replaced, the rest stays.
  ColumnPolicy notes = profile->PolicyFor({.table = "tickets", .column = "notes"});
  ASSERT_EQ(m.MaskValue(notes, "write to margaret.okonkwo@gmail.com today", &out),
            ValueOutcome::kMasked);
  EXPECT_TRUE(
      std::regex_match(out, std::regex("write to [a-z._]+[0-9]{4,}@example\\.(com|org|net) today")))
      << out;
  EXPECT_EQ(out.find("okonkwo"), std::string::npos);
}

}  // namespace
}  // namespace veil::masker
