#include "masker/detector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "masker/names.h"

namespace veil::masker {
namespace {

class DetectorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto d = Detector::Create({});
    ASSERT_TRUE(d.ok()) << d.error().message;
    detector_ = new std::shared_ptr<const Detector>(*d);
  }
  // "ENTITY:text" for each finding, in order.
  std::vector<std::string> Find(std::string_view text) {
    Scanner s(*detector_);
    std::vector<EntityMatch> out;
    s.Scan(text, &out);
    std::vector<std::string> r;
    for (const auto& m : out)
      r.push_back(std::string((*detector_)->EntityName(m.entity)) + ":" +
                  std::string(text.substr(m.start, m.end - m.start)));
    return r;
  }
  static std::shared_ptr<const Detector>* detector_;
};
std::shared_ptr<const Detector>* DetectorTest::detector_ = nullptr;

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST_F(DetectorTest, IssueExampleOffsets) {
  Scanner s(*detector_);
  std::vector<EntityMatch> out;
  std::string_view line = "card 4111 1111 1111 1111, mail bob@example.com";
  s.Scan(line, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].start, 5u);
  EXPECT_EQ(out[0].end, 24u);
  EXPECT_EQ((*detector_)->EntityName(out[0].entity), "CREDIT_CARD");
  EXPECT_EQ(out[1].start, 31u);
  EXPECT_EQ(out[1].end, 46u);
  EXPECT_EQ((*detector_)->EntityName(out[1].entity), "EMAIL");
}

// Sessions come and go on any worker thread: a Scanner reuses the scratch space of one that
// ended, and scans the same as one with its own, on other threads too, several at once.
TEST_F(DetectorTest, ScannersOnManyThreadsShareSpareScratch) {
  const std::string_view line = "card 4111 1111 1111 1111, mail bob@example.com";
  auto scan = [&] {
    Scanner s(*detector_);
    std::vector<EntityMatch> out;
    s.Scan(line, &out);
    return out.size() == 2 && (*detector_)->EntityName(out[1].entity) == "EMAIL";
  };
  ASSERT_TRUE(scan());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) good += scan();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 200);
}

TEST_F(DetectorTest, Emails) {
  EXPECT_THAT(Find("to: Bob.Smith+tag@mail.example.co.uk;"),
              ElementsAre("EMAIL:Bob.Smith+tag@mail.example.co.uk"));
  EXPECT_THAT(Find("image@2x.png and @mention and user@localhost"), IsEmpty());
  // RFC 5321's other forms: a quoted local part, an address literal for the domain.
  EXPECT_THAT(Find("write to \"john doe\"@example.com today"),
              ElementsAre("EMAIL:\"john doe\"@example.com"));
  EXPECT_THAT(Find("root@[192.0.2.7] and ops@[IPv6:2001:db8::1]"),
              ElementsAre("EMAIL:root@[192.0.2.7]", "EMAIL:ops@[IPv6:2001:db8::1]"));
  EXPECT_THAT(Find("say \"hi\"@media and x@[300.1.1.1] and \"\"@example.com"), IsEmpty());
  // An apostrophe of a name inside the local part; a quote around the address stays out.
  EXPECT_THAT(Find("cc: o'brien.patrick@example.ie; 'ann@example.com'"),
              ElementsAre("EMAIL:o'brien.patrick@example.ie", "EMAIL:ann@example.com"));
  EXPECT_THAT(Find("{\"domain\": \"@example.com\", \"at\": \"@[10.0.0.1]\"}"),
              ElementsAre("IP_ADDRESS:10.0.0.1"));
}

TEST_F(DetectorTest, Cards) {
  EXPECT_THAT(Find("amex 3782-822463-10005 ok"), ElementsAre("CREDIT_CARD:3782-822463-10005"));
  EXPECT_THAT(Find("visa 4111111111111111"), ElementsAre("CREDIT_CARD:4111111111111111"));
  EXPECT_THAT(Find("order 4111 1111 1111 1112"), IsEmpty());  // Luhn fails
}

// After a person keyword: a surname alone after a title, a name in another script, a
// lower-case name after a name label; placeholders and job titles are not names.
TEST_F(DetectorTest, PersonKeywordForms) {
  EXPECT_THAT(Find("contact: Ms. Chen"), ElementsAre("PERSON_NAME:Chen"));
  EXPECT_THAT(Find("seen by Dr. Okafor today"), ElementsAre("PERSON_NAME:Okafor"));
  EXPECT_THAT(Find("customer name: mary jane watson"), ElementsAre("PERSON_NAME:mary jane watson"));
  EXPECT_THAT(Find("display_name=jose garcia"), ElementsAre("PERSON_NAME:jose garcia"));
  EXPECT_THAT(Find("name: unknown"), IsEmpty());
  EXPECT_THAT(Find("name: test user"), IsEmpty());
  EXPECT_THAT(Find("customer Web Engineer"), IsEmpty());
  EXPECT_THAT(Find("contact Support Team"), IsEmpty());
  EXPECT_THAT(Find("the customer called"), IsEmpty());
}

// Names in scripts and spellings beyond Latin-1: a span never ends inside a word (the rest of
// the name would pass), Cyrillic capitals start a run and romanise into the name table, words
// of scripts without capitals count with context before or a speech verb after.
// A name after a year, a date, a time or a range is one (copyright lines, changelogs, logs);
// after a house number or digits glued to a code it is not taken on its own.
TEST_F(DetectorTest, NamesAfterYearsAndDates) {
  EXPECT_THAT(Find("Copyright 2007-2020 Sebastian Dr\xC3\xB6ge"),
              ElementsAre("PERSON_NAME:Sebastian Dr\xC3\xB6ge"));
  EXPECT_THAT(Find("Copyright 2019 John Smith. All rights reserved."),
              ElementsAre("PERSON_NAME:John Smith"));
  EXPECT_THAT(Find("2024-01-05 John Smith logged in"), ElementsAre("PERSON_NAME:John Smith"));
  EXPECT_THAT(Find("966 Marie Spurs"), ElementsAre("STREET_ADDRESS:966 Marie Spurs"));
  EXPECT_THAT(Find("829bd141 Merge Lossless cost"), IsEmpty());
  // A keyword followed by another script's punctuation and a name: the name is taken whole.
  EXPECT_THAT(
      Find("Contact\xEF\xBC\x9A\xD0\x98\xD0\xB2\xD0\xB0\xD0\xBD "
           "\xD0\x9F\xD0\xB5\xD1\x82\xD1\x80\xD0\xBE\xD0\xB2"),
      ElementsAre(::testing::HasSubstr("\xD0\x98\xD0\xB2\xD0\xB0\xD0\xBD "
                                       "\xD0\x9F\xD0\xB5\xD1\x82\xD1\x80\xD0\xBE\xD0\xB2")));
  // "Drève", "Dröge": a title glued to a letter beyond ASCII is no title.
  EXPECT_THAT(Find("Pointed by Piotr Dr\xC3\xB3\xC5\xBC"
                   "d\xC5\xBC"),
              ElementsAre("PERSON_NAME:Piotr Dr\xC3\xB3\xC5\xBC"
                          "d\xC5\xBC"));
}

TEST_F(DetectorTest, NamesOfTheWorld) {
  EXPECT_THAT(Find("Thanks, Xuân Trường Trần"), ElementsAre("PERSON_NAME:Xuân Trường Trần"));
  EXPECT_THAT(Find("reviewed by Ánh Tuyết Trương on Monday"),
              ElementsAre("PERSON_NAME:Ánh Tuyết Trương"));
  EXPECT_THAT(Find("Customer Phương Thể Bùi called"), ElementsAre("PERSON_NAME:Phương Thể Bùi"));
  EXPECT_THAT(Find("Please refund Никита Абрамов before Friday"),
              ElementsAre("PERSON_NAME:Никита Абрамов"));
  EXPECT_THAT(Find("Анна Сергеевна Петрова"), ElementsAre("PERSON_NAME:Анна Сергеевна Петрова"));
  EXPECT_THAT(Find("spoke with Ionuț Rusu today"), ElementsAre("PERSON_NAME:Ionuț Rusu"));
  EXPECT_THAT(Find("assigned to Ηλίας Βουρδουμπάς"), ElementsAre("PERSON_NAME:Ηλίας Βουρδουμπάς"));
  EXPECT_THAT(Find("耀杰 焦 wrote: the package arrived"), ElementsAre("PERSON_NAME:耀杰 焦"));
  EXPECT_THAT(Find("Thanks, محمود بن حمودة"), ElementsAre("PERSON_NAME:محمود بن حمودة"));
  EXPECT_THAT(Find("Tejumola Adeleke wrote: it arrived damaged"),
              ElementsAre("PERSON_NAME:Tejumola Adeleke"));
  EXPECT_THAT(Find("spoke with Дем’ян Коваленко today"),
              ElementsAre("PERSON_NAME:Дем’ян Коваленко"));
  EXPECT_THAT(Find("Dear Seán O’Brien,"), ElementsAre("PERSON_NAME:Seán O’Brien"));
  // Whom a ticket hands work to, and a subject in the present tense.
  EXPECT_THAT(Find("Forwarding to Thandiwe Ndlovu for approval."),
              ElementsAre("PERSON_NAME:Thandiwe Ndlovu"));
  EXPECT_THAT(Find("Please ask Thandiwe Ndlovu to review."),
              ElementsAre("PERSON_NAME:Thandiwe Ndlovu"));
  EXPECT_THAT(Find("Oluwaseun Adeyemi confirms the refund."),
              ElementsAre("PERSON_NAME:Oluwaseun Adeyemi"));
  // A present tense that is a plural noun too is no person's verb.
  EXPECT_THAT(Find("The XML Reporter writes in an XML format"), IsEmpty());
  EXPECT_THAT(Find("drm/amd: Flush GFXOFF requests in prepare stage"), IsEmpty());
  // Not names: no context for a run of an uncased script, a lower-case Cyrillic phrase.
  EXPECT_THAT(Find("商品 已 发货"), IsEmpty());
  EXPECT_THAT(Find("заказ отправлен сегодня"), IsEmpty());
  EXPECT_THAT(Find("The package arrived damaged"), IsEmpty());
}

// Written for this stop's probe, not taken from a generator: who wrote or is to be called back,
// a greeting with a given name alone, hyphenated given names, particles before the last
// surname, European given names that are American surnames, two people joined by "and".
// Probed by hand: the canonical sentences names (and a compact birth date) come in.
TEST_F(DetectorTest, NamesAndDatesInTheSentencesPeopleWrite) {
  // "and I" is the sentence going on, not a firm's partner ("Smith and Sons" is one).
  EXPECT_THAT(Find("My name is John Smith and I live in Boston."),
              ElementsAre("PERSON_NAME:John Smith"));
  EXPECT_THAT(Find("Smith and Sons Ltd"), IsEmpty());
  // "Last, First" with more words after: both readings, joined.
  EXPECT_THAT(Find("Signed, Robert Brown"), ElementsAre("PERSON_NAME:Signed, Robert Brown"));
  // Titles of other languages let a surname stand alone.
  EXPECT_THAT(Find("Invoice addressed to Herr M\xC3\xBCller."),
              ElementsAre("PERSON_NAME:M\xC3\xBCller"));
  EXPECT_THAT(Find("Frau Schmidt called; Mme Dubois wrote"),
              ElementsAre("PERSON_NAME:Schmidt", "PERSON_NAME:Dubois"));
  EXPECT_THAT(Find("herrlich Wetter"), IsEmpty());
  // After a title and a known given name, a common word is the surname.
  EXPECT_THAT(Find("seen by Dr. Gregory House."), ElementsAre("PERSON_NAME:Gregory House"));
  EXPECT_THAT(Find("Dr. Support Team"), IsEmpty());
  // A house number with a letter after it, where the line's letters are read at all.
  EXPECT_THAT(Find("moved from 10 Downing Street to 221B Baker Street"),
              ElementsAre("STREET_ADDRESS:10 Downing Street", "STREET_ADDRESS:221B Baker Street"));
  EXPECT_THAT(Find("birthdate: 19850314, order 19850314"), ElementsAre("DATE_OF_BIRTH:19850314"));
  // A post office box is a person's address too; a box of goods is not.
  EXPECT_THAT(Find("PO Box 4521, Anchorage AK; Postfach 10 11 12; the box 4521 shipped"),
              ElementsAre("STREET_ADDRESS:4521", "STREET_ADDRESS:10 11 12"));
  // A sign-off lets a known given name end the message alone.
  EXPECT_THAT(Find("Thanks, Anna"), ElementsAre("PERSON_NAME:Anna"));
  EXPECT_THAT(Find("Thanks, Team"), IsEmpty());
  EXPECT_THAT(Find("Thanks, Anna for the fix"), IsEmpty());
  // Escaped line breaks in JSON text glue the next word to an 'n'; read through them.
  EXPECT_THAT(Find("{\"note\":\"Kind regards,\\nMaria Lopez\"}"),
              ElementsAre("PERSON_NAME:Maria Lopez"));
  EXPECT_THAT(Find("{\"ssn\":\"x\\t123-45-6789\"}"), ElementsAre("US_SSN:123-45-6789"));
  EXPECT_THAT(Find("{\"path\":\"C:\\\\new\\\\Folder\"}"), IsEmpty());
  // Initials before a surname no table knows: two or more make a name, spaced or written
  // together; one needs context, since "S. Korea" is a place.
  EXPECT_THAT(Find("as J. R. R. Tolkien wrote"), ElementsAre("PERSON_NAME:J. R. R. Tolkien"));
  EXPECT_THAT(Find("by J.R.R. Tolkien"), ElementsAre("PERSON_NAME:J.R.R. Tolkien"));
  EXPECT_THAT(Find("flights to S. Korea, the U.S. Army, Washington D.C. Metro"), IsEmpty());
  EXPECT_THAT(Find("M. Okonkwo, 415-555-0132"),
              ElementsAre("PERSON_NAME:M. Okonkwo", "PHONE:415-555-0132"));
}

TEST_F(DetectorTest, NamesAfterMessagesGreetingsAndParticles) {
  EXPECT_THAT(Find("Note from Moa Mårtensson: the address changed"),
              ElementsAre("PERSON_NAME:Moa Mårtensson"));
  EXPECT_THAT(Find("please call back Sanele Mfumu before noon"),
              ElementsAre("PERSON_NAME:Sanele Mfumu"));
  EXPECT_THAT(Find("emailed Zdenka Píšová yesterday"), ElementsAre("PERSON_NAME:Zdenka Píšová"));
  EXPECT_THAT(Find("Hi Ingrid, thanks for the update"), ElementsAre("PERSON_NAME:Ingrid"));
  EXPECT_THAT(Find("Dear Bob,"), ElementsAre("PERSON_NAME:Bob"));
  // Forms the first cut missed (review): a comma or a tab after the greeting.
  EXPECT_THAT(Find("Hello, Ingrid!"), ElementsAre("PERSON_NAME:Ingrid"));
  EXPECT_THAT(Find("Hi\tIngrid"), ElementsAre("PERSON_NAME:Ingrid"));
  EXPECT_THAT(Find("Spoke with Jean-Baptiste Lefèvre-Dupont today"),
              ElementsAre("PERSON_NAME:Jean-Baptiste Lefèvre-Dupont"));
  EXPECT_THAT(Find("María García de la Cruz paid in cash"),
              ElementsAre("PERSON_NAME:María García de la Cruz"));
  EXPECT_THAT(Find("Mohammed bin Salman Al Saud requested a callback"),
              ElementsAre("PERSON_NAME:Mohammed bin Salman Al Saud"));
  EXPECT_THAT(Find("Albrecht Šimánek wrote: the package"),
              ElementsAre("PERSON_NAME:Albrecht Šimánek"));
  EXPECT_THAT(Find("Björn Ulvaeus and Benny Andersson"),
              ElementsAre("PERSON_NAME:Björn Ulvaeus", "PERSON_NAME:Benny Andersson"));
  // Capitals after a label or a name word; who opened a ticket, who is copied.
  EXPECT_THAT(Find("display_name = 'HELIN MENSAH', channel"),
              ElementsAre("PERSON_NAME:HELIN MENSAH"));
  EXPECT_THAT(Find("customer CASPAR SMIEJA!"), ElementsAre("PERSON_NAME:CASPAR SMIEJA"));
  EXPECT_THAT(Find("ticket opened by PROKOP MICHALSKI"),
              ElementsAre("PERSON_NAME:PROKOP MICHALSKI"));
  EXPECT_THAT(Find("cc AKI DALKIRAN on the reply"), ElementsAre("PERSON_NAME:AKI DALKIRAN"));
  EXPECT_THAT(Find("spoke with Ronald McDonald"), ElementsAre("PERSON_NAME:Ronald McDonald"));
  EXPECT_THAT(Find("Escalated to Mathuys van Buuren after the outage"),
              ElementsAre("PERSON_NAME:Mathuys van Buuren"));
  // Family name first: the whole name, not its last two words (which left "Đinh" behind).
  EXPECT_THAT(Find("Đinh Hương Dương asked to close the account"),
              ElementsAre("PERSON_NAME:Đinh Hương Dương"));
  // "Tô" folds to "to", but a short word with marks is not the English word.
  EXPECT_THAT(Find("Note from Thu Hậu Tô: the address changed"),
              ElementsAre("PERSON_NAME:Thu Hậu Tô"));
  // Not people: a greeting to a word, a firm, a department, a place after "from", SQL and
  // identifiers after a label.
  EXPECT_THAT(Find("UPDATE customers SET DL = 'x' WHERE id = 1"), IsEmpty());
  EXPECT_THAT(Find("customer SecretAccessKey rotated"), IsEmpty());
  EXPECT_THAT(Find("customer VIP"), IsEmpty());
  EXPECT_THAT(Find("paid by Credit Card"), IsEmpty());
  EXPECT_THAT(Find("opened by Jenkins CI"), IsEmpty());
  EXPECT_THAT(Find("Message from Google Cloud Platform: quota exceeded"), IsEmpty());
  EXPECT_THAT(Find("Hello World"), IsEmpty());
  EXPECT_THAT(Find("Hi Team, the build is green"), IsEmpty());
  EXPECT_THAT(Find("Wintheiser Lebsack and Hayes shipped it"), IsEmpty());
  EXPECT_THAT(Find("Note from Legal Department: approved"), IsEmpty());
  EXPECT_THAT(Find("Call back Acme Corp before noon"), IsEmpty());
  EXPECT_THAT(Find("Shipment from Nowa Sól delayed"), IsEmpty());
  EXPECT_THAT(Find("Goldman Sachs reported earnings"), IsEmpty());
  // Whom a parcel or a bill goes to: "Ship to: Meelis Allik, Välbe tänav 8".
  EXPECT_THAT(Find("Ship to: Meelis Allik, 12 Main Street"),
              ElementsAre("PERSON_NAME:Meelis Allik", "STREET_ADDRESS:12 Main Street"));
  EXPECT_THAT(Find("bill to Sin Tian Lam"), ElementsAre("PERSON_NAME:Sin Tian Lam"));
  EXPECT_THAT(Find("Deliver to: \xD7\x9C\xD7\x95\xD7\x99 \xD7\x93\xD7\x99\xD7\x99\xD7\x9F"),
              ElementsAre("PERSON_NAME:\xD7\x9C\xD7\x95\xD7\x99 \xD7\x93\xD7\x99\xD7\x99\xD7\x9F"));
  EXPECT_THAT(Find("ship to 061 Buckridge Loop"), ElementsAre("STREET_ADDRESS:061 Buckridge Loop"));
}

TEST_F(DetectorTest, NationalIdsOfOtherCountries) {
  EXPECT_THAT(Find("ssn 536-22-1234"), ElementsAre("US_SSN:536-22-1234"));
  EXPECT_THAT(Find("id 000-12-3456 and 666-12-3456"), IsEmpty());
  EXPECT_THAT(Find("ITIN 912-78-1234"), ElementsAre("US_ITIN:912-78-1234"));
  EXPECT_THAT(Find("SSN: 536221234"), ElementsAre("US_SSN:536221234"));
  // Never issued, but called an SSN: test data and typos are full of them (shape first).
  EXPECT_THAT(Find("SSN#: 123-45-6789"), ElementsAre("US_SSN:123-45-6789"));
  EXPECT_THAT(Find("ssn:000123456"), ElementsAre("US_SSN:000123456"));
  EXPECT_THAT(Find("social security number on file: 078-05-1120"),
              ElementsAre("US_SSN:078-05-1120"));
  // Written as an SSN is, in an area the SSA assigns: one, even where it is a published
  // number or has a group 00 or a serial 0000 (a notes field, a comment in DDL, a RAISE text).
  EXPECT_THAT(Find("lot 078-05-1120 shipped"), ElementsAre("US_SSN:078-05-1120"));
  EXPECT_THAT(Find("RAISE EXCEPTION 'no 219-09-9999'"), ElementsAre("US_SSN:219-09-9999"));
  EXPECT_THAT(Find("Customer 123-45-6789 called"), ElementsAre("US_SSN:123-45-6789"));
  EXPECT_THAT(Find("case 536-00-1234, claim 536-22-0000"),
              ElementsAre("US_SSN:536-00-1234", "US_SSN:536-22-0000"));
  // A dash spaced out, and "social" alone before nine digits.
  EXPECT_THAT(Find("SSN: 536 - 22 - 1234"), ElementsAre("US_SSN:536 - 22 - 1234"));
  EXPECT_THAT(Find("social: 536221234; social media 2024"), ElementsAre("US_SSN:536221234"));
  // Where the record keeps it, between the keyword and the value.
  EXPECT_THAT(Find("SSN on file 536 22 1234 (verify)"), ElementsAre("US_SSN:536 22 1234"));
  EXPECT_THAT(Find("SSN as recorded 536221234"), ElementsAre("US_SSN:536221234"));
  EXPECT_THAT(Find("routing number changed to 021000021"),
              ElementsAre("US_BANK_ROUTING:021000021"));
  // … but not a word that says what the number is instead.
  EXPECT_THAT(Find("SSN batch 536221234"), IsEmpty());
  EXPECT_THAT(Find("nino AB 12 34 56 C."), ElementsAre("UK_NINO:AB 12 34 56 C"));
  EXPECT_THAT(Find("NHS number 943 476 5919"), ElementsAre("UK_NHS:943 476 5919"));
  EXPECT_THAT(Find("provider NPI: 1245319599"), ElementsAre("US_NPI:1245319599"));
  EXPECT_THAT(Find("routing number 021000021"), ElementsAre("US_BANK_ROUTING:021000021"));
  EXPECT_THAT(Find("passport no. C12345678"), ElementsAre("US_PASSPORT:C12345678"));
  EXPECT_THAT(Find("DL# A1234567"), ElementsAre("US_DRIVER_LICENSE:A1234567"));
  // After its label, a prefix HMRC never issues (its own example, QQ) and WI's license (a
  // letter and 13 digits) are still the number.
  EXPECT_THAT(Find("NINO: QQ123456C"), ElementsAre("UK_NINO:QQ123456C"));
  EXPECT_THAT(Find("national insurance QQ 12 34 56 C"), ElementsAre("UK_NINO:QQ 12 34 56 C"));
  EXPECT_THAT(Find("ref QQ 12 34 56 C"), IsEmpty());
  // Bank account numbers after their label, and a card's security code (PCI DSS: never kept).
  EXPECT_THAT(Find("account number 000123456789; acct # 1234567890"),
              ElementsAre("BANK_ACCOUNT:000123456789", "BANK_ACCOUNT:1234567890"));
  EXPECT_THAT(Find("Kontonummer: 0532013000, checking account 12-345678-9"),
              ElementsAre("BANK_ACCOUNT:0532013000", "BANK_ACCOUNT:12-345678-9"));
  EXPECT_THAT(Find("account_id=12345678 order 12345678 account number: 12.5"), IsEmpty());
  EXPECT_THAT(Find("account number DE89370400440532013000"),
              ElementsAre("IBAN:DE89370400440532013000"));
  EXPECT_THAT(Find("cvv: 123, CVV2=9876, security code: 4821"),
              ElementsAre("CARD_CVV:123", "CARD_CVV:9876", "CARD_CVV:4821"));
  EXPECT_THAT(Find("visa 4012888888881881 exp 09/28 cvv 123"),
              ElementsAre("CREDIT_CARD:4012888888881881", "CARD_CVV:123"));
  EXPECT_THAT(Find("cvv: 12/27 and cvc: 12345"), IsEmpty());
  // A name that lost its overlap with a number keeps its words before it masked.
  EXPECT_THAT(Find("Dear JOHN AB 12 34 56 C"),
              ElementsAre("PERSON_NAME:JOHN", "UK_NINO:AB 12 34 56 C"));
  EXPECT_THAT(Find("DL# S530-4127-8842-01"), ElementsAre("US_DRIVER_LICENSE:S530-4127-8842-01"));
  // Other countries' documents after their labels, in their own words and shapes.
  EXPECT_THAT(Find("Passeport n\xC2\xB0 12AB34567"), ElementsAre("US_PASSPORT:12AB34567"));
  EXPECT_THAT(Find("pasaporte AAA123456, Reisepass C01X00T47"),
              ElementsAre("US_PASSPORT:AAA123456", "US_PASSPORT:C01X00T47"));
  EXPECT_THAT(Find("driver licence no. MORGA753116SM9IJ"),
              ElementsAre("US_DRIVER_LICENSE:MORGA753116SM9IJ"));
  EXPECT_THAT(Find("F\xC3\xBChrerschein B072RRE2I55"),
              ElementsAre("US_DRIVER_LICENSE:B072RRE2I55"));
  EXPECT_THAT(Find("licence valid until 2030; passport office in 2019; order AB12345 shipped"),
              IsEmpty());
  EXPECT_THAT(Find("invoice 021000021 paid"), IsEmpty());
}

// A name typed in lower case after a person keyword, in a line whose other data opened a look:
// a given name that is not first an English word, and a surname the tables know.
TEST_F(DetectorTest, LowerCaseNamesAfterKeywords) {
  EXPECT_THAT(Find("patient john smith, dob 1980-01-01"),
              ElementsAre("PERSON_NAME:john smith", "DATE_OF_BIRTH:1980-01-01"));
  EXPECT_THAT(Find("spoke to maria garcia-lopez, phone 415-555-0132"),
              ElementsAre("PERSON_NAME:maria garcia-lopez", "PHONE:415-555-0132"));
  EXPECT_THAT(Find("spoke with mary jane watson at 415-555-0132"),
              ElementsAre("PERSON_NAME:mary jane watson", "PHONE:415-555-0132"));
  for (const char* text : {"customer will call back on 415-555-0132",
                           "spoke to mark about 415-555-0132", "customer care team 415-555-0132",
                           "customer jane said 415-555-0132", "met with john and 415-555-0132"})
    EXPECT_THAT(Find(text), ElementsAre(testing::StartsWith("PHONE:"))) << text;
  EXPECT_THAT(Find("patient rose early 2024-01-05, grant writing 2024-01-05"), IsEmpty());
}

// A number read out in words after its label, as call transcripts write it.
TEST_F(DetectorTest, NumbersReadOutInWords) {
  EXPECT_THAT(Find("ssn: five three six - two two - one two three four"),
              ElementsAre("US_SSN:five three six - two two - one two three four"));
  EXPECT_THAT(Find("phone: four one five, five five five, oh one three two"),
              ElementsAre("PHONE:four one five, five five five, oh one three two"));
  EXPECT_THAT(Find("mobile: oh seven seven double oh, nine double oh one two three"),
              ElementsAre("PHONE:oh seven seven double oh, nine double oh one two three"));
  EXPECT_THAT(Find("cvv: seven three seven"), ElementsAre("CARD_CVV:seven three seven"));
  for (const char* text :
       {"ssn: one two", "phone: one of our agents", "cvv: one two three four five"})
    EXPECT_THAT(Find(text), IsEmpty()) << text;
}

// Other countries' national ids: in their own printed shapes with their checks, or named.
TEST_F(DetectorTest, NationalIds) {
  EXPECT_THAT(Find("Aadhaar 2345 6789 0124"), ElementsAre("NATIONAL_ID:2345 6789 0124"));
  EXPECT_THAT(Find("id 2345-6789-0124 ok"), ElementsAre("NATIONAL_ID:2345-6789-0124"));
  EXPECT_THAT(Find("cliente 529.982.247-25"), ElementsAre("NATIONAL_ID:529.982.247-25"));
  EXPECT_THAT(Find("holder 11010519491231002X."), ElementsAre("NATIONAL_ID:11010519491231002X"));
  EXPECT_THAT(Find("assuré 1 84 12 76 451 089 46"),
              ElementsAre("NATIONAL_ID:1 84 12 76 451 089 46"));
  EXPECT_THAT(Find("member 900101-1234568"), ElementsAre("NATIONAL_ID:900101-1234568"));
  EXPECT_THAT(Find("RRN 900101-1234567"), ElementsAre("NATIONAL_ID:900101-1234567"));
  EXPECT_THAT(Find("kund 811218-9876"), ElementsAre("NATIONAL_ID:811218-9876"));
  EXPECT_THAT(Find("PESEL: 44051401359"), ElementsAre("NATIONAL_ID:44051401359"));
  EXPECT_THAT(Find("BSN 111222333"), ElementsAre("NATIONAL_ID:111222333"));
  EXPECT_THAT(Find("Steuer-ID 65929970489"), ElementsAre("NATIONAL_ID:65929970489"));
  EXPECT_THAT(Find("DNI 12345678Z"), ElementsAre("NATIONAL_ID:12345678Z"));
  EXPECT_THAT(Find("NIE X1234567L"), ElementsAre("NATIONAL_ID:X1234567L"));
  // The letter or check digit set off by a dash, as Spain's DNI and Chile's RUT are written;
  // Chile's RUT and Argentina's CUIT by their names.
  EXPECT_THAT(Find("DNI 95537429-Y"), ElementsAre("NATIONAL_ID:95537429-Y"));
  EXPECT_THAT(Find("RUT 12.345.678-5"), ElementsAre("NATIONAL_ID:12.345.678-5"));
  EXPECT_THAT(Find("RUT: 7462292-k"), ElementsAre("NATIONAL_ID:7462292-k"));
  EXPECT_THAT(Find("CUIT 20-12345678-6"), ElementsAre("NATIONAL_ID:20-12345678-6"));
  EXPECT_THAT(Find("c\xC3\xA9"
                   "dula 1712345678"),
              ElementsAre("NATIONAL_ID:1712345678"));
  EXPECT_THAT(Find("stuck in a rut 3 days"), IsEmpty());
  // Brazil's RG, Mexico's NSS and RFC (Ñ in it), Poland's identity card, Taiwan's id, Colombia's
  // six-digit cédulas, and a long number its label names; "RFC" before a standard's number
  // and section is no id.
  EXPECT_THAT(Find("RG 304352924"), ElementsAre("NATIONAL_ID:304352924"));
  EXPECT_THAT(Find("NSS 0789358801-8"), ElementsAre("NATIONAL_ID:0789358801-8"));
  EXPECT_THAT(Find("RFC XEDC031202WSJ"), ElementsAre("NATIONAL_ID:XEDC031202WSJ"));
  EXPECT_THAT(Find("RFC PU\xC3\x91U83092439H"), ElementsAre("NATIONAL_ID:PU\xC3\x91U83092439H"));
  EXPECT_THAT(Find("according to RFC 8446 4.1.2, the client"), IsEmpty());
  EXPECT_THAT(Find("RFC 5869 2.3 requires"), IsEmpty());
  EXPECT_THAT(Find("dow\xC3\xB3"
                   "d osobisty KBJ105824"),
              ElementsAre("NATIONAL_ID:KBJ105824"));
  EXPECT_THAT(Find("\xE8\xBA\xAB\xE5\x88\x86\xE8\xAD\x89\xE5\xAD\x97\xE8\x99\x9F R172874835"),
              ElementsAre("NATIONAL_ID:R172874835"));
  EXPECT_THAT(Find("C\xC3\xA9"
                   "dula 159499"),
              ElementsAre("NATIONAL_ID:159499"));
  EXPECT_THAT(Find("codice fiscale 01148423692381807397"),
              ElementsAre("NATIONAL_ID:01148423692381807397"));
  // A person's number by what it is, in English and in the Baltic states' languages.
  EXPECT_THAT(Find("personal identity number: 280559-604T"),
              ElementsAre("NATIONAL_ID:280559-604T"));
  EXPECT_THAT(Find("isikukood 39006201572"), ElementsAre("NATIONAL_ID:39006201572"));
  EXPECT_THAT(Find("codice fiscale RSSMRA85T10A562S"), ElementsAre("NATIONAL_ID:RSSMRA85T10A562S"));
  EXPECT_THAT(Find("CURP: GOMC800101HDFRRL09"), ElementsAre("NATIONAL_ID:GOMC800101HDFRRL09"));
  EXPECT_THAT(Find("NRIC S1234567D"), ElementsAre("NATIONAL_ID:S1234567D"));
  EXPECT_THAT(Find("PAN: BNZPM2501F"), ElementsAre("NATIONAL_ID:BNZPM2501F"));
  EXPECT_THAT(Find("PAN 4111111111111111"), ElementsAre("CREDIT_CARD:4111111111111111"));
  EXPECT_THAT(Find("the pan is hot"), IsEmpty());
  // After the label, the shape: an identity card's letters and digits, a PAN whose fourth
  // letter no holder type has.
  EXPECT_THAT(Find("Personalausweis-Nr. L01X00T47"), ElementsAre("NATIONAL_ID:L01X00T47"));
  EXPECT_THAT(Find("PAN ABCDE1234F"), ElementsAre("NATIONAL_ID:ABCDE1234F"));
  EXPECT_THAT(Find("ein: 70-3587588"), IsEmpty());  // a business's, printed in public filings
  EXPECT_THAT(Find("身份证号 11010519491231002X"), ElementsAre("NATIONAL_ID:11010519491231002X"));
  // Named as their countries name them; Hong Kong's check digit in parentheses.
  for (const char* text :
       {"f\xC3\xB8"
        "dselsnummer 01018012345",
        "henkil\xC3\xB6tunnus 131052-308T", "CNP 1800101221144", "OIB 12345678903",
        "JMBG 0101980710006", "EGN 7501020018", "AHV-Nr. 756.1234.5678.97", "PPS number 1234567TW",
        "HKID A123456(7)", "MyKad 880101-14-5566", "Emirates ID 784-1987-1234567-1",
        "TC Kimlik No: 10000000146", "Steuernummer 21/815/08150"})
    EXPECT_THAT(Find(text), ElementsAre(testing::StartsWith("NATIONAL_ID:"))) << text;
  EXPECT_THAT(Find("HKID A123456(7)"), ElementsAre("NATIONAL_ID:A123456(7)"));
  // South Africa's, by its shape: birth date, citizenship digit, Luhn.
  EXPECT_THAT(Find("ID 8001015009087 (South Africa)"), ElementsAre("NATIONAL_ID:8001015009087"));
  EXPECT_THAT(Find("order 8001015009088, ts 1701151234567, ean 4006381333931"), IsEmpty());
  // Checks that fail without a name, ids of other shapes, an SSN under its other name.
  EXPECT_THAT(Find("ref 2345 6789 0125"), IsEmpty());
  EXPECT_THAT(Find("order 529.982.247-26"), IsEmpty());
  EXPECT_THAT(Find("national_id=536-22-1234"), ElementsAre("US_SSN:536-22-1234"));
}

TEST_F(DetectorTest, Iban) {
  EXPECT_THAT(Find("IBAN DE89 3704 0044 0532 0130 00, thanks"),
              ElementsAre("IBAN:DE89 3704 0044 0532 0130 00"));
  EXPECT_THAT(Find("GB82WEST12345698765432"), ElementsAre("IBAN:GB82WEST12345698765432"));
  EXPECT_THAT(Find("GB83WEST12345698765432"), IsEmpty());
  // Typed in lower case, grouped or not; an IBAN earlier on the line keeps the next number
  // out of it.
  EXPECT_THAT(Find("iban de89 3704 0044 0532 0130 00"),
              ElementsAre("IBAN:de89 3704 0044 0532 0130 00"));
  EXPECT_THAT(Find("refund to gb82west12345698765432 today"),
              ElementsAre("IBAN:gb82west12345698765432"));
  EXPECT_THAT(Find("de89 3704 0044 0532 0130 01"), IsEmpty());
  EXPECT_THAT(Find("wire to GI60QMNO575IT2326548K27 and number 965 156 196"),
              ElementsAre("IBAN:GI60QMNO575IT2326548K27", "PHONE:965 156 196"));
}

// Other countries' formats: a country code in parentheses (Indonesia, Georgia), a number after
// "contact", Norway's 3-2-3 after a phone word (no date, whatever its eight digits).
TEST_F(DetectorTest, PhonesOfOtherCountries) {
  EXPECT_THAT(Find("wa (+62) 27 2588 120 ok"), ElementsAre("PHONE:(+62) 27 2588 120"));
  EXPECT_THAT(Find("call (+62) 796 9830 6532 tomorrow"), ElementsAre("PHONE:(+62) 796 9830 6532"));
  EXPECT_THAT(Find("Contact: 42 64 15 73"), ElementsAre("PHONE:42 64 15 73"));
  EXPECT_THAT(Find("call 340 29 266 tomorrow"), ElementsAre("PHONE:340 29 266"));
  EXPECT_THAT(Find("call 2024-05-12"), IsEmpty());
  EXPECT_THAT(Find("contact jane@example.com"), ElementsAre("EMAIL:jane@example.com"));
  // The international prefix written out, with no phone word near.
  EXPECT_THAT(Find("0033 1 23 45 67 89"), ElementsAre("PHONE:0033 1 23 45 67 89"));
  EXPECT_THAT(Find("x 0044 20 7946 0958 x"), ElementsAre("PHONE:0044 20 7946 0958"));
  // A 16-digit id with leading zeros is neither a card nor a phone; a date is no number.
  EXPECT_THAT(Find("0001 2345 6789 0123 and 2024-05-01 12:03"), IsEmpty());
  // Labelled in their own languages; an area code set off by a slash.
  EXPECT_THAT(Find("Cellulare: 333 123 4567, m\xC3\xB3vil 612345678"),
              ElementsAre("PHONE:333 123 4567", "PHONE:612345678"));
  EXPECT_THAT(Find("Tel.: 030 / 123 45 67"), ElementsAre("PHONE:030 / 123 45 67"));
  EXPECT_THAT(Find("phone 1 / 2 cup; the handy 2024 guide"), IsEmpty());
  // Labels in scripts without capitals open the look as ASCII words do; a label is no name.
  EXPECT_THAT(
      Find("\xE6\x82\xA3\xE8\x80\x85\xEF\xBC\x9A\xE7\x8E\x8B\xE5\xB0\x8F\xE6\x98\x8E"
           "\xEF\xBC\x8C\xE7\x94\xB5\xE8\xAF\x9D 138 0013 8000"),  // 患者：王小明，电话
      ElementsAre("PERSON_NAME:\xE7\x8E\x8B\xE5\xB0\x8F\xE6\x98\x8E", "PHONE:138 0013 8000"));
  // A record's person under their role; software a role names is none.
  EXPECT_THAT(Find("Resident: Mbali Dlamini"), ElementsAre("PERSON_NAME:Mbali Dlamini"));
  EXPECT_THAT(Find("Applicant Tracking System, Customer Tracking System"), IsEmpty());
  EXPECT_THAT(Find("Kunde: Lars Olsen, tlf 20 12 34 56"),
              ElementsAre("PERSON_NAME:Lars Olsen", "PHONE:20 12 34 56"));
}

TEST_F(DetectorTest, Phones) {
  EXPECT_THAT(Find("call +44 20 7946 0958 now"), ElementsAre("PHONE:+44 20 7946 0958"));
  EXPECT_THAT(Find("office (650) 253-0000"), ElementsAre("PHONE:(650) 253-0000"));
  EXPECT_THAT(Find("phone: 6502530000"), ElementsAre("PHONE:6502530000"));
}

// Phone-shaped numbers from a generator this project does not own (chance.js): verbs and the
// words between them and the number, and ten bare digits in a contact's line.
TEST_F(DetectorTest, PhonesAfterVerbsAndInContacts) {
  EXPECT_THAT(Find("please call back on 7644448315"), ElementsAre("PHONE:7644448315"));
  EXPECT_THAT(Find("called from 5807768921 today"), ElementsAre("PHONE:5807768921"));
  EXPECT_THAT(Find("text me at 5807768921"), ElementsAre("PHONE:5807768921"));
  EXPECT_THAT(Find("dialed 5807768921"), ElementsAre("PHONE:5807768921"));
  // "called back:" in a ticket is no phone label for what follows.
  EXPECT_THAT(Find("Customer called back: at 18941.89 today"), IsEmpty());
  EXPECT_THAT(Find("Jane Roe,jroe@example.com,3554325178,969 Almo Street,Springfield"),
              ElementsAre("PERSON_NAME:Jane Roe", "EMAIL:jroe@example.com", "PHONE:3554325178",
                          "STREET_ADDRESS:969 Almo Street"));
  // A cell of its own in a contact's CSV line: the national forms of other countries, bare or
  // ending in two pairs; not a ZIP+4, an id's 2-4-3 or an SSN's 3-2-4.
  EXPECT_THAT(Find("Bina Melo,8920951972,bina@example.com,Cubat\xC3\xA3o"),
              ElementsAre("PERSON_NAME:Bina Melo", "PHONE:8920951972", "EMAIL:bina@example.com"));
  EXPECT_THAT(Find("Sidy Dione,210-27-81,763 Thersa Heights,Bartolettibury"),
              ElementsAre("PERSON_NAME:Sidy Dione", "PHONE:210-27-81",
                          "STREET_ADDRESS:763 Thersa Heights"));
  for (const char* id : {"89848-7890", "76-3836-504", "870-70762-99"})
    EXPECT_THAT(Find(std::string("Jane Roe,") + id + ",969 Almo Street,Springfield"),
                ElementsAre("PERSON_NAME:Jane Roe", "STREET_ADDRESS:969 Almo Street"))
        << id;
  // "00", a country code, then the number in one run, after a phone word.
  EXPECT_THAT(Find("called from 0039 087446380834 about"), ElementsAre("PHONE:0039 087446380834"));
  // Ten digits alone, keyed by an id's name, after `order`, or not shaped as a North American
  // number, stay ids.
  EXPECT_THAT(Find("id 3554325178"), IsEmpty());
  EXPECT_THAT(Find("Jane Roe jroe@example.com ticket_no=3554325178"),
              ElementsAre("PERSON_NAME:Jane Roe", "EMAIL:jroe@example.com"));
  EXPECT_THAT(Find("Jane Roe jroe@example.com order 3554325178"),
              ElementsAre("PERSON_NAME:Jane Roe", "EMAIL:jroe@example.com"));
  // … but standing in a cell of its own beside them, ten digits are the contact's phone
  // whether or not North America could dial them (Brazil's "8920951972" cannot): the leak
  // weighs more than the id masked with it.
  EXPECT_THAT(Find("Jane Roe,jroe@example.com,1554325178"),
              ElementsAre("PERSON_NAME:Jane Roe", "EMAIL:jroe@example.com", "PHONE:1554325178"));
}

// A value under a key that names a place is no person, however it reads ("Le Havre").
TEST_F(DetectorTest, PlaceKeysHoldNoNames) {
  EXPECT_THAT(Find("city: Le Havre"), IsEmpty());
  EXPECT_THAT(Find("{\"town\":\"La Rochelle\"}"), IsEmpty());
  EXPECT_THAT(Find("billing_city=Nancy Graves"), IsEmpty());
  EXPECT_THAT(Find("<Locality>Le Havre</Locality>"), IsEmpty());
  EXPECT_THAT(Find("name: Jane Doe, city: Le Havre"), ElementsAre("PERSON_NAME:Jane Doe"));
}

// Shapes of @ngneat/falso, another generator: +CC glued to the area code, Niue's seven digits,
// Luhn-valid cards whose prefix no network issues (with card words near only).
TEST_F(DetectorTest, FalsoPhonesAndCards) {
  EXPECT_THAT(Find("x +49(450)43 83 y"), ElementsAre("PHONE:+49(450)43 83"));
  EXPECT_THAT(Find("x +1(601)427 1053 y"), ElementsAre("PHONE:+1(601)427 1053"));
  EXPECT_THAT(Find("x +1 (284) 914 0104 y"), ElementsAre("PHONE:+1 (284) 914 0104"));
  EXPECT_THAT(Find("x +683 1686 y"), ElementsAre("PHONE:+683 1686"));
  EXPECT_THAT(Find("score +12 3456 y"), IsEmpty());
  EXPECT_THAT(Find("card 1714 8867 9206 6133 ok"), ElementsAre("CREDIT_CARD:1714 8867 9206 6133"));
  EXPECT_THAT(Find("card_number=3096 404756 3706 x"), ElementsAre("CREDIT_CARD:3096 404756 3706"));
  EXPECT_THAT(Find("ref 1714 8867 9206 6133 ok"), IsEmpty());
  EXPECT_THAT(Find("card 4110 5063 3790 2568. at 1607191933747"),
              ElementsAre("CREDIT_CARD:4110 5063 3790 2568"));  // not the timestamp
}

// Names the American tables do not know: after a greeting and before a comma, and in a value
// that holds the same person's other data; firms ending in a legal form are not people.
TEST_F(DetectorTest, NamesOfOtherCountriesInContacts) {
  EXPECT_THAT(Find("Hi Kabiru, your ticket is closed"), ElementsAre("PERSON_NAME:Kabiru"));
  EXPECT_THAT(Find("Hi Everyone, the build is green"), IsEmpty());
  EXPECT_THAT(Find("Fañch Gunnarsdóttir,fanch@example.is,+354 555 1234"),
              ElementsAre("PERSON_NAME:Fañch Gunnarsdóttir", "EMAIL:fanch@example.is",
                          "PHONE:+354 555 1234"));
  EXPECT_THAT(Find("see Fañch Gunnarsdóttir in the notes"), IsEmpty());
  // A CSV line of a contact, no spaces: the pair beside the phone or address is the name, a
  // field each.
  EXPECT_THAT(Find("Aarav,Sharma,+91-98200-12345"),
              ElementsAre("PERSON_NAME:Aarav", "PERSON_NAME:Sharma", "PHONE:+91-98200-12345"));
  EXPECT_THAT(Find("Olivia;Brown;07911 123456"),
              ElementsAre("PERSON_NAME:Olivia", "PERSON_NAME:Brown", "PHONE:07911 123456"));
  EXPECT_THAT(Find("prod,Madison,Toronto,jo@example.com"), ElementsAre("EMAIL:jo@example.com"));
  // Quoted, as CSV and SQL value lists quote cells.
  EXPECT_THAT(Find("(18, 'Maria', 'Garcia', 'maria.g@example.com')"),
              ElementsAre("PERSON_NAME:Maria", "PERSON_NAME:Garcia", "EMAIL:maria.g@example.com"));
  EXPECT_THAT(Find("\"Olivia\",\"Brown\",\"07911 123456\""),
              ElementsAre("PERSON_NAME:Olivia", "PERSON_NAME:Brown", "PHONE:07911 123456"));
  EXPECT_THAT(Find("'Red', 'Large', 'jo@example.com'"), ElementsAre("EMAIL:jo@example.com"));
  // A sign-off's name that no table knows, ending the message; not a group or a team.
  EXPECT_THAT(Find("Kind regards, Nomvula"), ElementsAre("PERSON_NAME:Nomvula"));
  EXPECT_THAT(Find("Thanks, Nomvula!"), ElementsAre("PERSON_NAME:Nomvula"));
  for (const char* text : {"Regards, Support", "Cheers, Everyone", "Thanks, Nomvula for the call"})
    EXPECT_THAT(Find(text), IsEmpty()) << text;
  // A whole number in parentheses; an id before a name is no house number.
  EXPECT_THAT(Find("husband Tunde (0803 123 4567)."), ElementsAre("PHONE:0803 123 4567"));
  EXPECT_THAT(Find("ditt nummer 070-123 45 67, växel 08-123 456 78"),
              ElementsAre("PHONE:070-123 45 67", "PHONE:08-123 456 78"));
  EXPECT_THAT(Find("see note (2024 budget), items (12 34 56)"), IsEmpty());
  EXPECT_THAT(Find("Employee #4471 Kowalczyk, Agnieszka"),
              ElementsAre("PERSON_NAME:Kowalczyk, Agnieszka"));
  EXPECT_THAT(Find("Olivia,Brown,Paris,France"), IsEmpty());
  EXPECT_THAT(Find("ACME;Widgets;+1 415 555 0199"), ElementsAre("PHONE:+1 415 555 0199"));
  EXPECT_THAT(Find("Red,Large,+1 415 555 0199"), ElementsAre("PHONE:+1 415 555 0199"));
  EXPECT_THAT(Find("moved to 479 S Franklin Street, Glasgow Closing this out for now."),
              ElementsAre("STREET_ADDRESS:479 S Franklin Street"));
  EXPECT_THAT(Find("Texas Instruments Incorporated invoice 5, ship to 12 Elm Street"),
              ElementsAre("STREET_ADDRESS:12 Elm Street"));
  EXPECT_THAT(Find("Gentiva Health Services Inc. invoice 5"), IsEmpty());
}

// Shapes of fakerator's locales (a third generator): streets in Cyrillic, Hungarian streets
// named after people, streets named by a preposition, Russian names family name first, phones
// of a contact in national forms, a birth date of one-digit parts.
TEST_F(DetectorTest, FakeratorLocales) {
  EXPECT_THAT(Find("x улица Южная, 796"), ElementsAre("STREET_ADDRESS:улица Южная, 796"));
  EXPECT_THAT(Find("x Строителей пл., 616"), ElementsAre("STREET_ADDRESS:Строителей пл., 616"));
  EXPECT_THAT(Find("x Dobos Roland tér 81"), ElementsAre("STREET_ADDRESS:Dobos Roland tér 81"));
  EXPECT_THAT(Find("x Am Brungen 3"), ElementsAre("STREET_ADDRESS:Am Brungen 3"));
  EXPECT_THAT(Find("Unter den Linden 77"), ElementsAre("STREET_ADDRESS:Unter den Linden 77"));
  EXPECT_THAT(Find("x U Tyršovky 622"), ElementsAre("STREET_ADDRESS:U Tyršovky 622"));
  EXPECT_THAT(Find("x Na vŕšku 574"), ElementsAre("STREET_ADDRESS:Na vŕšku 574"));
  EXPECT_THAT(Find("see In Progress 3"), IsEmpty());
  EXPECT_THAT(Find("Попов Дмитрий,popov@example.ru"),
              ElementsAre("PERSON_NAME:Попов Дмитрий", "EMAIL:popov@example.ru"));
  EXPECT_THAT(Find("Helen zu Keutel,helen@example.de"),
              ElementsAre("PERSON_NAME:Helen zu Keutel", "EMAIL:helen@example.de"));
  EXPECT_THAT(Find("Léa Moulin,lea@example.fr,0214780199,12 Rue Molière"),
              ElementsAre("PERSON_NAME:Léa Moulin", "EMAIL:lea@example.fr", "PHONE:0214780199",
                          "STREET_ADDRESS:12 Rue Molière"));
  EXPECT_THAT(Find("Ida Nagy,ida@example.hu,06-1-129-4465"),
              ElementsAre("PERSON_NAME:Ida Nagy", "EMAIL:ida@example.hu", "PHONE:06-1-129-4465"));
  // Ids in the same shapes beside a contact are no phones: a short last group stays an id, the
  // 3-2-4 of an SSN is one.
  EXPECT_THAT(Find("Ida Nagy,ida@example.hu,79-4790-555,507-00-5091"),
              ElementsAre("PERSON_NAME:Ida Nagy", "EMAIL:ida@example.hu", "US_SSN:507-00-5091"));
  EXPECT_THAT(Find("born 3/2/1988, ok"), ElementsAre("DATE_OF_BIRTH:3/2/1988"));
  // Zero-padded house numbers, units after the number, a phone's extension: all of it.
  EXPECT_THAT(Find("ship to 061 Buckridge Loop"), ElementsAre("STREET_ADDRESS:061 Buckridge Loop"));
  EXPECT_THAT(Find("x Calle Gabriel 6, Esc. 590"),
              ElementsAre("STREET_ADDRESS:Calle Gabriel 6, Esc. 590"));
  EXPECT_THAT(Find("x Horváth Dominik utca 71. 3/2"),
              ElementsAre("STREET_ADDRESS:Horváth Dominik utca 71. 3/2"));
  EXPECT_THAT(Find("x Via Roma 4, Piano 53, Milano"),
              ElementsAre("STREET_ADDRESS:Via Roma 4, Piano 53"));
  EXPECT_THAT(Find("called from (560) 753-6945 x5955 today"),
              ElementsAre("PHONE:(560) 753-6945 x5955"));
  EXPECT_THAT(Find("call 415-867-5309 xylophone"), ElementsAre("PHONE:415-867-5309"));
}

// USPS Publication 28 abbreviations, as US address data writes them.
TEST_F(DetectorTest, StreetSuffixAbbreviations) {
  EXPECT_THAT(Find("ship to 354 Kaeki Grv today"), ElementsAre("STREET_ADDRESS:354 Kaeki Grv"));
  EXPECT_THAT(Find("moved to 277 Romun Vw, Pewihoso"), ElementsAre("STREET_ADDRESS:277 Romun Vw"));
  EXPECT_THAT(Find("at 1762 Ejakaw Gln and 426 Tujhu Mnr"),
              ElementsAre("STREET_ADDRESS:1762 Ejakaw Gln", "STREET_ADDRESS:426 Tujhu Mnr"));
}

// A common surname that is also a word (Hall, Lord, Ball, North) after a common given name is
// a name where context says so; a firm named after people is not a person.
TEST_F(DetectorTest, SurnamesThatAreWordsAndFirms) {
  EXPECT_THAT(Find("name: Troy Hall"), ElementsAre("PERSON_NAME:Troy Hall"));
  EXPECT_THAT(Find("{\"name\":\"Warren Lord\"}"), ElementsAre("PERSON_NAME:Warren Lord"));
  EXPECT_THAT(Find("I spoke with Alvin Z. Lord yesterday"),
              ElementsAre("PERSON_NAME:Alvin Z. Lord"));
  EXPECT_THAT(Find("cardholder=\"Lida M. Ball\" amount=1"),
              ElementsAre("PERSON_NAME:Lida M. Ball"));
  EXPECT_THAT(Find("user=\"Gianni Bani\" ip=x"), ElementsAre("PERSON_NAME:Gianni Bani"));
  EXPECT_THAT(Find("The talk is in Warren Hall today"), IsEmpty());
  EXPECT_THAT(Find("user=postgres db=app"), IsEmpty());
  EXPECT_THAT(Find("Pitney Bowes Inc. invoice 5"), IsEmpty());
  EXPECT_THAT(Find("Henry Schein, Inc. invoice 5"), IsEmpty());
  EXPECT_THAT(Find("Signed, Robert Brown"), ElementsAre("PERSON_NAME:Signed, Robert Brown"));
}

TEST_F(DetectorTest, Network) {
  EXPECT_THAT(Find("client=203.0.113.7:5432"), ElementsAre("IP_ADDRESS:203.0.113.7"));
  EXPECT_THAT(Find("from [2001:db8::1]:22"), ElementsAre("IP_ADDRESS:2001:db8::1"));
  EXPECT_THAT(Find("at 12:30:45 std::string v1.2.3"), IsEmpty());
  EXPECT_THAT(Find("hw 00:1a:2b:3c:4d:5e"), ElementsAre("MAC_ADDRESS:00:1a:2b:3c:4d:5e"));
}

TEST_F(DetectorTest, Secrets) {
  // A test log's results are no passwords; `PASS:` before a plain value still labels one.
  EXPECT_THAT(Find("PASS: gdb.base/parse_number.exp: p 1\nPASS: tests/t-foo.sh"), IsEmpty());
  EXPECT_THAT(Find("USER: bob PASS: hunter2"), ElementsAre("GENERIC_SECRET:hunter2"));
  // AWS's documentation key is shaped as a key: masked, at no cost.
  EXPECT_THAT(Find("key=AKIAIOSFODNN7EXAMPLE"), ElementsAre("AWS_ACCESS_KEY:AKIAIOSFODNN7EXAMPLE"));
  EXPECT_THAT(Find("AKIAZ3MRQXRTVL4GX7PQ"), ElementsAre("AWS_ACCESS_KEY:AKIAZ3MRQXRTVL4GX7PQ"));
  // The pair with no keyword: a credentials CSV, a pasted line.
  EXPECT_THAT(Find("deploy,AKIAZ3MHQW7PLKDT2R5N,Xq9vT2mB7kLpR4sW8nY1cF6hJ3dG0aZ5eU2iO7tQ"),
              ElementsAre("AWS_ACCESS_KEY:AKIAZ3MHQW7PLKDT2R5N",
                          "AWS_SECRET_KEY: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"));
  EXPECT_THAT(Find("AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
              ElementsAre("AWS_ACCESS_KEY:AKIAIOSFODNN7EXAMPLE",
                          "AWS_SECRET_KEY:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
  // A 40-byte hex digest after it is no secret of that shape.
  EXPECT_THAT(Find("AKIAZ3MHQW7PLKDT2R5N 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
              ElementsAre("AWS_ACCESS_KEY:AKIAZ3MHQW7PLKDT2R5N"));
  EXPECT_THAT(Find("postgres://app:S3cr3t-Pa55@db.internal:5432/orders"),
              ElementsAre("PASSWORD_IN_URL:S3cr3t-Pa55"));
  EXPECT_THAT(Find("DB_PASSWORD=q8Zr2LmX9vTe4WpK"), ElementsAre("GENERIC_SECRET:q8Zr2LmX9vTe4WpK"));
  // A password label's value is the password however weak; a template is not.
  EXPECT_THAT(Find("password=changeme token=${TOKEN}"), ElementsAre("GENERIC_SECRET:changeme"));
  EXPECT_THAT(Find("password=${DB_PASSWORD} pwd=******** passwd: <your-password>"), IsEmpty());
  EXPECT_THAT(Find("\"password\": \"hunter2\", passwd: Welcome1"),
              ElementsAre("GENERIC_SECRET:hunter2", "GENERIC_SECRET:Welcome1"));
  EXPECT_THAT(Find("password=Password123! and PGPASSWORD=Tr0ub4dor&3 psql"),
              ElementsAre("GENERIC_SECRET:Password123!", "GENERIC_SECRET:Tr0ub4dor&3"));
  // A password that starts with a symbol keeps it inside the token (Ruby's Faker writes
  // them so); a YAML comment after the key is no value.
  EXPECT_THAT(Find("password: #$!%&70q54DaU"), ElementsAre("GENERIC_SECRET:#$!%&70q54DaU"));
  EXPECT_THAT(Find("pwd=-Xy12abc"), ElementsAre("GENERIC_SECRET:-Xy12abc"));
  EXPECT_THAT(Find("password: # set me later"), IsEmpty());
  EXPECT_THAT(Find("?user=bob&password=s3cret&sslmode=require"),
              ElementsAre("GENERIC_SECRET:s3cret"));
  EXPECT_THAT(Find("password: expired; password_changed_at=2024-01-02 password_length=12"),
              IsEmpty());
  EXPECT_THAT(Find("PWD=/home/alice/projects OLDPWD=~/src"), IsEmpty());
  // A passphrase runs to its line's end; a PIN is its digits; a security answer is a password.
  EXPECT_THAT(Find("passphrase: correct horse battery staple"),
              ElementsAre("GENERIC_SECRET:correct horse battery staple"));
  EXPECT_THAT(
      Find("pin: 4821; user=admin pass=Summer2024! secret_answer=Fluffy"),
      ElementsAre("GENERIC_SECRET:4821", "GENERIC_SECRET:Summer2024!", "GENERIC_SECRET:Fluffy"));
  EXPECT_THAT(Find("PIN code: 560001, pass: true, the test will pass: 12 of 12"), IsEmpty());
  EXPECT_THAT(Find("Mother's maiden name: Whitfield"), ElementsAre("GENERIC_SECRET:Whitfield"));
  // Passwords as code, markup, server configs and SQL write them (query logs, processlists,
  // pg_stat_activity show other sessions' statements).
  for (const auto& [text, secret] :
       std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"define('DB_PASSWORD', 'Wp0rdPress!');", "Wp0rdPress!"},
           {"<Password>XmlPa55</Password>", "XmlPa55"},
           {"<entry key=\"password\">EntryPw22</entry>", "EntryPw22"},
           {"user.set_password('SetPw99')", "SetPw99"},
           {"ALTER USER app WITH PASSWORD 'SqlAlter01';", "SqlAlter01"},
           {"CREATE ROLE r LOGIN PASSWORD 'Secret';", "Secret"},
           {"CREATE USER bob IDENTIFIED BY 'OraIdent02';", "OraIdent02"},
           {"CREATE USER u IDENTIFIED WITH mysql_native_password BY 'Nat1ve';", "Nat1ve"},
           {"SET PASSWORD FOR 'bob'@'%' = PASSWORD('MyOld03');", "MyOld03"},
           {"requirepass Redis06conf", "Redis06conf"},
       }) {
    bool found = false;
    for (const std::string& f : Find(text))
      found = found || f == "GENERIC_SECRET:" + std::string(secret);
    EXPECT_TRUE(found) << text;
  }
  EXPECT_THAT(Find("The Suspect was Identified by Police Officers"), IsEmpty());
  for (std::string_view text :
       {"models.CharField('Password', max_length=128)",
        "const key = scryptSync('password', 'salt', 64);",
        "readFile('/etc/passwd', 'utf8', callback);", "std::vector<Token> m_tokenBuffer;",
        "read_passphrase(prompt, RP_ALLOW_STDIN)", "Use \"<password>\" instead."})
    EXPECT_THAT(Find(text), IsEmpty()) << text;
  EXPECT_THAT(
      Find("aws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYzA9Q2xLmRt"),
      ElementsAre("AWS_SECRET_KEY:wJalrXUtnFEMI/K7MDENG/bPxRfiCYzA9Q2xLmRt"));
  EXPECT_THAT(Find("security_answer=blue dog"), ElementsAre("GENERIC_SECRET:blue dog"));
  EXPECT_THAT(Find("the security answer feature is new"), IsEmpty());
  EXPECT_THAT(Find("INSERT INTO users (name_id, password) VALUES (7, 'changeme')"),
              ElementsAre("GENERIC_SECRET:changeme"));
  // A long random value right after `secret` or `token`, with no '=' or ':'.
  EXPECT_THAT(
      Find("sample secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, token 9fQ2xLm7Rt4Kp8Zw"),
      ElementsAre("AWS_SECRET_KEY:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                  "GENERIC_SECRET:9fQ2xLm7Rt4Kp8Zw"));
  EXPECT_THAT(Find("the secret santa list and token expired yesterday"), IsEmpty());
  // After an explicit key label a hex digest or a UUID is the key; DRF's `Token` scheme too.
  EXPECT_THAT(Find("X-API-Key: 3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"),
              ElementsAre("GENERIC_SECRET:3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"));
  EXPECT_THAT(Find("api_key: 123e4567-e89b-12d3-a456-426614174000"),
              ElementsAre("GENERIC_SECRET:123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_THAT(Find("Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"),
              ElementsAre("GENERIC_SECRET:9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"));
  // An '@' of the password's own: the host starts after the last one.
  EXPECT_THAT(Find("mysql://root:p@ssw0rd@localhost/db"), ElementsAre("PASSWORD_IN_URL:p@ssw0rd"));
  EXPECT_THAT(Find("AWS key AKIA2E0A8F3B244C9986"),
              ElementsAre("AWS_ACCESS_KEY:AKIA2E0A8F3B244C9986"));
  EXPECT_THAT(Find("ssn 536.22.1234"), ElementsAre("US_SSN:536.22.1234"));
  EXPECT_THAT(Find("id 550e8400-e29b-41d4-a716-446655440000 sha "
                   "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
              IsEmpty());
}

// Providers' credentials in the formats gitleaks and trufflehog know them by, bodies drawn at
// random (not from the engine's tables): each must be masked whole, in a sentence, as its entity.
TEST_F(DetectorTest, ProviderTokens) {
  struct Sample {
    const char* entity;
    const char* text;
    const char* secret;  // the part that must be masked; nullptr: all of text
  };
  const Sample samples[] = {
      {"API_TOKEN", "glpat-ZWzwDFrlGXl_z1BVXBt7", nullptr},
      {"API_TOKEN", "glptt-5a22fac180d6b2e6e1b465e551305fd2d2490ca4", nullptr},
      {"API_TOKEN", "glrt-ZzhB4GZqT8hqt0pmpsLw", nullptr},
      {"API_TOKEN", "GR1348941w0sAO-DGpUxjKbgRBWZR", nullptr},
      {"API_TOKEN", "gldt-ZX1VlxeVZ4DNCNnOBFXL", nullptr},
      {"API_TOKEN", "npm_CW9f4CA96qeGs6R3uYEIi75qB4sA9Q0NksyR", nullptr},
      {"API_TOKEN",
       "pypi-AgEIcHlwaS5vcmc4yWRzSaTLyvH1D0SZaozaNv4AH17KzcnNjeh1MVLymYZwH6Qqq5X1wUGAJ7Wx98vjE6boQ",
       nullptr},
      {"API_TOKEN", "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", nullptr},
      {"API_TOKEN",
       "sk-ant-api03-1Dyo_vIJUjzwTkoqrtleWvTDuRgR3yNwos-bDWmE4kuv4VGOfYcMuqbKLLp-"
       "2jfTuOQPeWIDtcKZ1Dw0gBEHum3adzqxMAA",
       nullptr},
      {"API_TOKEN", "dop_v1_185d401ce257ad4f2b57f63d654f75852777dc278aaf6301d1a619588096b35b",
       nullptr},
      {"API_TOKEN", "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", nullptr},
      {"API_TOKEN", "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", nullptr},
      {"API_TOKEN", "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",
       nullptr},
      {"API_TOKEN", "SK6a47b27d40ac20d2de32062796348956", nullptr},
      {"API_TOKEN", "key-23a069ca1e8fb6b41a76df5b5900b44d", nullptr},
      {"API_TOKEN", "12a9b5a391ad65152fcdcbc836b42830-us12", nullptr},
      {"API_TOKEN", "6071895142:AAEpLJ0qrqKdHsF0qHM3XlSd_D9i-MEeq6i", nullptr},
      {"API_TOKEN", "NJ9i9P7wXVIcea1nUV7aCmPH.6-aBfC.t3xq6KceMheFYV-rKSteQVz1HwG", nullptr},
      {"API_TOKEN",
       "https://hooks.slack.com/services/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",
       "T4FY0QT4A9/BLBQOLBK7O/tquzwzk4qxYkajJDDrV1EOuU"},
      {"API_TOKEN",
       "https://discord.com/api/webhooks/304463454142152410/"
       "PsgZt7BpYQ2OQBilCFXuF0DRkxhhl8WBH4Rax23OJvs9Vr947x6_M57m9e6ypS_bW3Oh",
       "304463454142152410/PsgZt7BpYQ2OQBilCFXuF0DRkxhhl8WBH4Rax23OJvs9Vr947x6_M57m9e6ypS_bW3Oh"},
      {"API_TOKEN",
       "DefaultEndpointsProtocol=https;AccountName=acctmih91;AccountKey="
       "aoqyrCGcShfzeyCABax7H8TUSRFLc5nvfBZKVRx8QM9/"
       "b8dGlQnd2VawVTURIOHXvDNkl9jkzoSXPCFgqGYvaR==;EndpointSuffix=core.windows.net",
       "aoqyrCGcShfzeyCABax7H8TUSRFLc5nvfBZKVRx8QM9/b8dGlQnd2VawVTURIOHXvDNkl9jkzoSXPCFgqGYvaR=="},
      {"API_TOKEN",
       "https://acct.blob.core.windows.net/c/"
       "f.csv?sv=2021-06-08&ss=b&srt=o&sp=r&se=2026-12-31T00:00:00Z&sig="
       "umyrFVYlk4TLY4QbQdjctwEjdisPwLqpu7pdpqB7h0M%3D",
       "umyrFVYlk4TLY4QbQdjctwEjdisPwLqpu7pdpqB7h0M%3D"},
      {"API_TOKEN",
       "hvs.kwayO_"
       "XUrDB26J1z5DKeBR7AmewezI3bjlvcFlpjikcIVVw4Xg2x8z7PjTwNNfBzfOE7oI1Bpeu9pxzqv2jHkEAc46IG",
       nullptr},
      {"API_TOKEN",
       "hvb.4q7S9FnriivEq1LcKXxUgjzGUqt9S7vRVFAJJCn9q8JG6wBMd6JcUbWqIlrXxVytdn9n3NZ_"
       "ak6VFSPndpuFKAD9fNBW7GhwAlkWx3sA2MnkiQ_sDjiZFL8z",
       nullptr},
      {"API_TOKEN", "dapiada5e474def8bcb216f0ed162edf0672", nullptr},
      {"API_TOKEN", "PMAK-7c547acb2f16dc40aa68b37f-9ebc5021a9e11f559ca168fc162f465fa3", nullptr},
      {"API_TOKEN", "glc_EGhCTM5VNjdWHjzo0oq56UiOjbqrwEZmyCK32tgHF5O7UZdRxoPZiuaaYSiB==", nullptr},
      {"API_TOKEN", "glsa_GavHBY25XyU52x3oXUewKTkN5jWgZcIw_c1a98427", nullptr},
      {"API_TOKEN", "AGE-SECRET-KEY-1RJX9MXNXAWFGHX5SMYDLTK3L8Q2ZYWKUDCUTVL4NU8QR4ES0NN9GRY54VT",
       nullptr},
      {"API_TOKEN", "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", nullptr},
      {"API_TOKEN",
       "ya29.ClFS40qGZz5NX6HS_C_rVB1H4LMNTzHwKmMgL2y5pZwYm76Dgd-BenhO_"
       "DNEHQYpmp6wAyasBStLxdURHoiyULZyPKXIlZmQa-nTrx37SiZx98XP53y9Hppt",
       nullptr},
      {"API_TOKEN",
       "ATATT3-"
       "Lv4XpbNfaiag2WNPXps4p25Bqh9aHejgYweZiPBCTJpGchQrTa58x6mogYIvj6YySPdvMFXhhoObftVMKwVjmrWJzzJ"
       "_=bqt1MPdYwWYXyorL30mFSZanLDEY9=1c=NAfoxe=ObOAG0y6Bhx2my_SF3U=1EtrcK_"
       "GmEHcEYFk6z7soD4iWAVT6olv",
       nullptr},
      {"API_TOKEN", "lin_api_vubVCCvoURA2pCAyhr1IeieeUQMjuSuN9WPw375d", nullptr},
      {"API_TOKEN", "secret_vejHppacrEM4QAkBPZE3KmtSPQPsWedZgnXCZC3U7K0", nullptr},
      {"API_TOKEN", "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", nullptr},
      {"API_TOKEN", "dp.pt.cjcupzhtewqecqjrq3h2tnz8aidw5khpd4a7lr9fdgu", nullptr},
      {"API_TOKEN", "pul-a569538e06142b172d03ac0f2931e3f77b640975", nullptr},
      {"API_TOKEN",
       "446bhw9nmw01mh.atlasv1.a6xfvl7x8xtakodmwp99gmz4s6vs5q028vqnoq1d5rz2ai4o09o56qxz1qwimj8y937",
       nullptr},
      {"API_TOKEN", "sq0atp-t5ow4Lnh0Z4_pwIisPGSEc", nullptr},
      {"API_TOKEN", "sq0csp-Bs0FSO4xpj0ZOKra2QChIOzcLw-Vwp-xxoXZlxl-js7", nullptr},
      {"API_TOKEN",
       "EAACHWqH93sT3HIY0L9ABx8BmgjDWHKZhoGMowt29EPUTkso4WXHED6uc8rphzWg66ORTkyYg8nDAS3I6Yq6OcJnEfY"
       "jkhHMniq8OtUNudEJruD9jPFP4jKl3YrKBW6f4QFOIYgRjpFsUHI7sJpN8AcFSm",
       nullptr},
      {"API_TOKEN", "whsec_WVbJpd1a1b0gC2mA3MCPeefgeCM1NIrr", nullptr},
      {"API_TOKEN", "https://f9ac8de91119d2e46027d3abbf34042b@o88795.ingest.sentry.io/7334757",
       "f9ac8de91119d2e46027d3abbf34042b"},
      {"API_TOKEN",
       "sntrys_VKTz5fZMxjsxc0hkLY/nDmiXTyTzpTUMw3ur3gA1mfQNCGgCo6Jl3vemxc4ajiUbZfZwHDcmaUri681E",
       nullptr},
      {"API_TOKEN", "NRAK-UM3LE4DCTLWOEQ7ZLX9NSHDP392", nullptr},
      {"API_TOKEN",
       "dt0c01.ABEKR2ESRJBL72J2M2PTCQLD."
       "Q06UKYE2I5MFU2Y4NC3IOPX8LP148MADMR9HEKY60A8G6VG7F6T0FU6BW72USSEZ",
       nullptr},
      {"API_TOKEN", "LTAIbR8Hni44UZN7XKxecb3I", nullptr},
      {"API_TOKEN", "fo1_Xah3ubVN-1bcZNBEkPPtpcIzyH2v9xzO49Qa9z6Yofh", nullptr},
      {"API_TOKEN", "pscale_tkn_f-DZMfpGDuuTBRXWLNUF9OKc5-ZWQviXJSfX0OO3LM5", nullptr},
      {"API_TOKEN", "sbp_87b303771cdfdce8b4ff740d453699d100a6ed67", nullptr},
      {"API_TOKEN", "AKCpvBvf39He0RhOB38jMWyUr8r8Z32gTgvXUYIflSrkY7ASVzN07FKjJANXVhmH8HMMHFpsL",
       nullptr},
      {"PRIVATE_KEY",
       "-----BEGIN PGP PRIVATE KEY BLOCK----- "
       "c774gAUfWw4EQ/LAwpunnEaRYtOpjrLQsrKI+mXGbu5McKb7nJLs4RccXvee -----END PGP PRIVATE KEY "
       "BLOCK-----",
       nullptr},
      {"API_TOKEN",
       "xoxe.xoxp-1-"
       "9m1TsUvmft3uhrieNTP8GGv0l2kSM6LEBqgJHnMwL94kLTyyKsTvzI0PUnXReYPKxwLfcdAUGkLculbrcSVA0HZ1Caw"
       "G3vAZQ8OU5U5-1CH-xuA4jP1ChfMdcZ8CCjtTTKxRdeoTpocK-GZ1563xCx",
       nullptr},
      {"API_TOKEN",
       "xoxe-1-CVnt1KAVqwE1Z9oI-OzoHFY2gkQDB-"
       "wdq3nYPtUEo2TIATbnAcchmOoByHWSBD0v5V4XZqFbz7Y2dCV43FbSiH-"
       "vKdYXuK5pdnyznn78Kq2jd2tVpghiDxUqLGhrPfBQ9GOhheWpbQSt",
       nullptr},
      {"GENERIC_SECRET",
       "Authorization: Basic ejZtcGh0ZTQ6SERPVWVnS2RyMDFucXY=", "ejZtcGh0ZTQ6SERPVWVnS2RyMDFucXY="},
      {"GENERIC_SECRET", "Authorization: Bearer kbPP0gUf88ZSKHotIZJS-in4xu5vUptEnH319Vh_",
       "kbPP0gUf88ZSKHotIZJS-in4xu5vUptEnH319Vh_"},
      {"GENERIC_SECRET",
       "{\"auths\":{\"registry.example.com\":{\"auth\":\"azBsNW1pajU6ZE1WcVltRnJRNVUySGU=\"}}}",
       "azBsNW1pajU6ZE1WcVltRnJRNVUySGU="},
      {"GENERIC_SECRET", "machine api.example.com login deploy password Zq83kTnw0pXmR2vL",
       "Zq83kTnw0pXmR2vL"},
      {"API_TOKEN",
       "v1.0-751b4a895e8ca6ce82062c1a-"
       "ab98e3b363588bf789abbf7ad99828e7d1fbe6d895f166f0db1c4b28c44f500f331beed9e6ee3d03c8ec5e0c806"
       "08b75d70f936798585a405ad98124cc216747f80bba85dc7a7619a1",
       nullptr},
      {"API_TOKEN", "HRKU-QF_7UNKCVmu75-9t5sP1vhcCWHKxi795wSctZ9trvQJHCbt_GSNqWbdm0PdO", nullptr},
      {"API_TOKEN", "shippo_live_7956f5f39d8bcf262be0039c177612f332126dbb", nullptr},
      {"API_TOKEN", "EZAK2b6997acf106542bbc7f86f1c9418f1e598c308bf022fe9f6c25e4", nullptr},
      {"API_TOKEN",
       "patQNWtShdO0W7Lip.ce720b803749cab9e5f3c8540da0cb7c78e450144e7c256054b46e4b7e39b679",
       nullptr},
      {"API_TOKEN",
       "sk.eyJ1IjoiSwjFMGMX-uYQZ7x8De2rAJu1fCoJKo_q994soBLx3C9-GUPG0rG0wMSplL16."
       "7f0Aexzb9U1uzFhTcB9OiS",
       nullptr},
      {"API_TOKEN", "rubygems_159aaeb92d3aace4e61ef89e8fafba74c76ec9479c8503b3", nullptr},
      {"API_TOKEN", "CLOJARS_rfn2f6ioadjozehyew58wfmmyxblcsmq4159e51k52nwlrtqvo7yzkfrbsro",
       nullptr},
      {"API_TOKEN",
       "sl.S-FzzOqj2TCLbvzF0vQzqKqJEUKzRO603mJjWWBOvnWnRFlUHHB_wV1r4sgJDKqzaAtEGj3J3f56WbH6mHzqymQ-"
       "aVyrNuswjypGOxRPDoNMwcoq2zInUSQiUOUfyuZHgoAzqH-",
       nullptr},
      {"API_TOKEN", "CFPAT-bErRDRyOiv_KB5uUPMPZa1PY7hbKu_LKoqQezVU5CRv", nullptr},
      {"API_TOKEN", "pnu_pfrQKblUOlJRVzCQ8N8DTRkL8LkiMrtZKm0d", nullptr},
      {"API_TOKEN", "rdme_nr9726tth22dupb239nn08fuy80jkelssgr0lfiyh06kbh2kwxij1xzq70qesawwr8nv8m",
       nullptr},
      {"API_TOKEN", "tk-us-GTo0ScPVXnAdOLSza7N5Q3ZLnGcIqZGrztKWXA3o4S9iqLBK", nullptr},
      {"API_TOKEN", "fio-u-T7Cg8uUGeCQaucgoJXVRA_q5fRukpGHZSCulvlOu46JPxs4jAR5IgNAeB03xbnVE",
       nullptr},
      {"API_TOKEN", "duffel_live_tNCKxy2Jld_6rKCAonlR7Hnl3YZcvHneRPssqtJlUmc", nullptr},
      {"API_TOKEN", "tfp_lUDPARogu2x_ok5EK0zJOAYBwcdxaGmaNgNq.nBShGvYdU9H5QrXUj-HPyB", nullptr},
      {"API_TOKEN", "live_b64708b70f376eb758ed698ba55954ff553", nullptr},
      {"API_TOKEN", "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",
       nullptr},
      {"API_TOKEN", "API-FV8V9MSB1N0UW0JU3WRIK4X73K", nullptr},
      {"API_TOKEN", "pat.UcoEOKAN1m5N6miLUZk3Tn.b85afaa71058b62ff446e87a.djvqaYSZww1Gw311OP7h",
       nullptr},
      {"API_TOKEN", "ico-twiKjvd47OuQOH3PbesgQZrl0JP1TxDD", nullptr},
      {"API_TOKEN", "sm_pat_4uvqm4r891fyrxbc", nullptr},
      {"API_TOKEN", "sha256~m1huKMjFlx-2SSLWJGZRi5GEWkDNHGnjLhdwP-WGLDS", nullptr},
  };
  for (const Sample& s : samples) {
    const std::string text = std::string("we rotated ") + s.text + " after the incident";
    const std::string_view secret = s.secret ? s.secret : s.text;
    const size_t at = text.find(secret);
    Scanner scanner(*detector_);
    std::vector<EntityMatch> out;
    scanner.Scan(text, &out);
    bool covered = false;
    for (const auto& m : out)
      covered = covered || (m.start <= at && m.end >= at + secret.size() &&
                            (*detector_)->EntityName(m.entity) == s.entity);
    EXPECT_TRUE(covered) << s.entity << " not masked whole in: " << text;
  }
}

// Azure AD client secrets ('~' and '.' break their token runs) and a password glued to a
// mysql client's -p.
TEST_F(DetectorTest, AzureSecretsAndMysqlPasswords) {
  EXPECT_THAT(Find("az ad sp: F7S8Q~TG7nVLe3lAR.UsRJlNONwktN9ugkZeESG6."),
              ElementsAre("API_TOKEN:F7S8Q~TG7nVLe3lAR.UsRJlNONwktN9ugkZeESG6"));
  EXPECT_THAT(Find("the key 1sh0Q~-QAqq0nv3Vth1Ls6v6_O9JL8ZsoWw-Rxl_ (rotated)"),
              ElementsAre("API_TOKEN:1sh0Q~-QAqq0nv3Vth1Ls6v6_O9JL8ZsoWw-Rxl_"));
  EXPECT_THAT(Find("mysqldump -uadmin -pS3cr3tPassw0rd shop > dump.sql"),
              ElementsAre("GENERIC_SECRET:S3cr3tPassw0rd"));
  EXPECT_THAT(Find("mysql -h db1 -u root -p40N7BFrLCmWSky app"),
              ElementsAre("GENERIC_SECRET:40N7BFrLCmWSky"));
  // -p alone asks for the password; other commands' -p flags are not one.
  EXPECT_THAT(Find("mysql -u root -p shop; grep -parse-everything-here file; tar -preserve-perms"),
              IsEmpty());
}

// Stored password hashes, in the forms systems store them, wherever they stand: each is a
// credential (MySQL's and PostgreSQL's md5 log in as they are; the rest are cracked offline).
TEST_F(DetectorTest, PasswordHashes) {
  const std::string_view hashes[] = {
      "$2b$12$KIXQJ6Ch5N6Jb7GQ2q9Y1uOe3c5v1xqv8Z5q2w3e4r5t6y7u8i9o0",
      "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
      "$6$rounds=5000$saltsalt$XqKd3ZoUqN1Y5X3xw7VtY7b5mS7C8lqz0a8d6T6h1K2gP9Qy3c8Nf4uS0mJ1oR7",
      "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7",
      "$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/",
      "$P$BYHwJqFgk2mW6l8cQ8b3xP1zJdU0Lx.",
      "pbkdf2_sha256$260000$abc123XY$Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg==",
      "pbkdf2:sha256:600000$Xk2pQ7bT$3f9a1c0e5b7d2f4a6c8e0b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d",
      "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
      "HjrMXRgeMTBt7DOhMXkOThaHJ9Ai7qoBGkDXcPfBm5s=",
      "md5a3556571e93b0d20722ba62be61e8c2d",
      "*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9",
      "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g7ZqVr",
  };
  for (std::string_view h : hashes) {
    EXPECT_THAT(Find(h), ElementsAre("GENERIC_SECRET:" + std::string(h))) << h;
    const std::string line = "stored " + std::string(h) + " for bob";
    EXPECT_THAT(Find(line), ElementsAre("GENERIC_SECRET:" + std::string(h))) << line;
  }
  // /etc/shadow, MariaDB's global_priv: the hash between its delimiters.
  EXPECT_THAT(Find("root:$1$zjo.jFOAxy$jatozrteZ8abcdefghij15:19000:0:99999:7:::"),
              ElementsAre("GENERIC_SECRET:$1$zjo.jFOAxy$jatozrteZ8abcdefghij15"));
  EXPECT_THAT(Find("{\"plugin\":\"mysql_native_password\",\"authentication_string\":"
                   "\"*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9\"}"),
              ElementsAre("GENERIC_SECRET:*6BB4837EB74329105EE4568DDA7DC67ED2CA2AD9"));
  // Dollar signs, stars and braces that are no hash.
  EXPECT_THAT(Find("costs $5 and $10$ each; see $HOME$PATH; price $1$ per item; *ABC*; {SHA} x"),
              IsEmpty());
  EXPECT_THAT(Find("md5 d41d8cd98f00b204e9800998ecf8427e, sha1 "
                   "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"),
              IsEmpty());
}

// Passwords, keys and tokens in command lines (shell history, CI logs, audit trails): by the
// tool's own flags, and by any option whose name says what its value is.
TEST_F(DetectorTest, CommandLineCredentials) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"mysql -u root -pS3cr3t! -h db1 prod", "S3cr3t!"},
      {"mariadb-dump -ubackup '-pBa ck' shop", "Ba ck"},
      {"sshpass -p 'N0tS0Secret' ssh deploy@bastion", "N0tS0Secret"},
      {"curl -u admin:P@ssw0rd123 https://api.example.com/v1", "P@ssw0rd123"},
      {"curl --user 'ci:tok en' -X POST https://h", "tok en"},
      {"redis-cli -h cache -a myredispass123 ping", "myredispass123"},
      {"docker login -u bob -p dckr_2bX7kLm9QwErTy registry.example", "dckr_2bX7kLm9QwErTy"},
      {"podman pull --creds bob:Pod1pw quay.io/x", "Pod1pw"},
      {"openssl enc -aes-256-cbc -k mypassphrase123 -in a -out b", "mypassphrase123"},
      {"openssl pkcs12 -export -passout pass:Exp0rtPw -out k.p12", "Exp0rtPw"},
      {"htpasswd -b .htpasswd alice alicepw77", "alicepw77"},
      {"htpasswd -nbB bob Bobs-pw9", "Bobs-pw9"},
      {"echo 'Th1s1sMyP@ss' | sudo -S apt update", "Th1s1sMyP@ss"},
      {"echo 'alice:ChPw99x' | chpasswd", "ChPw99x"},
      {"printf '%s\\n' hunter22 | docker login -u x --password-stdin", "hunter22"},
      {"sudo -S systemctl restart db <<< 'Sud0pw'", "Sud0pw"},
      {"wget --password hunter2x https://x", "hunter2x"},
      {"mongosh --username admin --password mongoPw42 --host db", "mongoPw42"},
      {"zip -P zipsecret9 out.zip a.txt", "zipsecret9"},
      {"gpg --batch --passphrase gpgsecret77 -d file.gpg", "gpgsecret77"},
      {"ldapsearch -x -D cn=admin,dc=ex -w ldapPw123 -b dc=ex", "ldapPw123"},
      {"smbclient //srv/share -U bob%SmbPass99", "SmbPass99"},
      {"sqlcmd -S srv -U sa -P SqlPw2024 -Q \"select 1\"", "SqlPw2024"},
      {"xfreerdp /v:host /u:admin /p:RdpPass55", "RdpPass55"},
      {"plink -ssh -pw PuttyPw77 root@host", "PuttyPw77"},
      {"7z x -pSevenZip99 a.7z", "SevenZip99"},
      {"sqlplus -s scott/tiger@orcl @report.sql", "tiger"},
      {"sqlplus scott/tiger@orcl", "tiger"},
      {"echo 'root:R00tpw' | chpasswd", "R00tpw"},
      {"docker exec -it db mysql -uroot -pDockPw1 shop", "DockPw1"},
      {"vault login s.XyZ12345abcdEFGH", "s.XyZ12345abcdEFGH"},
      {"net ads join -U administrator%AdPw2024", "AdPw2024"},
      {"cqlsh -u cassandra -p CassPw01 host", "CassPw01"},
      {"influx -username admin -password InfluxPw1", "InfluxPw1"},
      {"ssh-keygen -t ed25519 -N KeyPass77 -f k", "KeyPass77"},
      {"keytool -list -keystore k.jks -storepass st0repass", "st0repass"},
      {"helm registry login reg.io -u bob --password HelmPw22", "HelmPw22"},
      {"app serve --client-secret abcDEF123xyz --port 80", "abcDEF123xyz"},
      {"mysqldump \\\n--password=Dump2pw \\\n--all-databases", "Dump2pw"},
      {"psql -h db \\\n--client-secret Cont1nued", "Cont1nued"},
      {"mysql -h db1 -u root \\\n  -pCont1nued2 shop", "Cont1nued2"},
      {"mysql -uroot -p\"S3cr3t pw\" shop", "S3cr3t pw"},
      {"mysqladmin -u root -pOld1pw password NewPass1", "NewPass1"},
      {"curl -sSu admin:Curl2pw https://x", "Curl2pw"},
      {"app --db-password=Weak5 --port 1", "Weak5"},
      {"unrar x -pRar6pw archive.rar", "Rar6pw"},
      {"$c = (ConvertTo-SecureString 'Ps9Secure' -AsPlainText -Force)", "Ps9Secure"},
      {"Invoke-Sqlcmd -ServerInstance db -Username sa -Password 'Ps10pw' -Query q", "Ps10pw"},
      {"echo -n 'Ssl11pw' | openssl enc -aes256 -pass stdin -in f", "Ssl11pw"},
      {"redis-server --requirepass foobared1", "foobared1"},
      {"ipmitool -I lanplus -H bmc -U root -P Ipm1pw chassis status", "Ipm1pw"},
      {"snmpwalk -v2c -c s3cretCommunity 10.0.0.1", "s3cretCommunity"},
      {"/usr/bin/mysql -pPathPw1 db", "PathPw1"},
      {"SQLCMD.EXE -S srv -U sa -P WinPw123", "WinPw123"},
  };
  for (const auto& [text, secret] : cases) {
    bool found = false;
    for (const std::string& f : Find(text))
      found = found || f == "GENERIC_SECRET:" + std::string(secret);
    EXPECT_TRUE(found) << text;
  }
  // Flags that are not credentials, switches that make the tool ask, values that say where
  // the secret is.
  for (std::string_view text : {
           "docker run -p 8080:80 nginx",
           "ssh -p 2222 user@host",
           "redis-cli -h host -p 6379 ping",
           "mysql -u root -p mydb",
           "psql --password mydb",
           "mysql --password mydb",
           "pg_dump --password --host db mydb",
           "curl -u admin https://x",
           "openssl enc -pass env:PW -in a",
           "openssl rsa -passin file:/etc/pw -in k",
           "zip -r out.zip dir",
           "echo hello | grep h",
           "echo $PASSWORD | sudo -S cmd",
           "htpasswd -c .htpasswd alice",
           "net use Z: \\\\srv\\share /persistent:yes",
           "vault login -method=github",
           "sqlplus /nolog",
           "sqlplus / as sysdba",
           "gh auth login --with-token < t.txt",
           "docker build --secret id=npm,src=$HOME/.npmrc .",
           "the net result is good and the helm of the ship",
           "git commit -m \"fix password handling\" --author bob",
           "app --token-file /run/secrets/token --no-password db",
           "mysql -u root -p$(cat /run/secrets/db) shop",
           "ffmpeg -i in.mp4 -pass 1 -f null /dev/null",
           "cjpeg -onepass -quality 80 in.ppm",
       })
    EXPECT_THAT(Find(text), IsEmpty()) << text;
}

// Lines of this machine's Debian documentation (/usr/share/doc changelogs, manuals and test
// logs), verbatim: text nobody wrote for veil. Credentials as they appear there, and the prose
// about options that the first version of the command-line reader took for commands.
TEST_F(DetectorTest, CommandLinesFromDebianDocumentation) {
  const std::pair<std::string_view, std::string_view> found[] = {
      {"Command line: [/build/reproducible-path/openjdk-17-17.0.15+6/build/bootcycle-build/"
       "images/jdk/bin/jarsigner -J-Duser.language=en -J-Duser.country=US -keystore ks "
       "-storepass changeit -strict -verbose -debug -signedjar normal.jar unsigned.jar signer "
       "-tsa http://localhost:43671/normal]",
       "changeit"},
      {"   openssl s_client -psk 1a2b3c4d -tls1_2 -cipher PSK-RC4-SHA", "1a2b3c4d"},
      {"  sudo /usr/bin/mysql -e \"GRANT ALL ON *.* TO 'USERNAME'@'localhost' IDENTIFIED BY "
       "'password' WITH GRANT OPTION\"",
       "password"},
  };
  for (const auto& [text, secret] : found) {
    bool hit = false;
    for (const std::string& f : Find(text))
      hit = hit || f == "GENERIC_SECRET:" + std::string(secret);
    EXPECT_TRUE(hit) << text;
  }
  for (std::string_view text : {
           "\trespectively.  Document the --user and --password options in the help",
           "                        Ordered dither is only available in -onepass mode.",
           "          argument. The new option --delete-root-password may be used to unset",
           "\t--remove-password (-r), --restrict (-R), --administrators (-A),",
           "** Wget now supports the --ftp-user and --ftp-password command",
           "    upstream: mention in comment that read_passphrase(..., RP_ALLOW_STDIN)",
           "const key1 = scryptSync('password', 'salt', 64);",
           "readFile('/etc/passwd', 'utf8', callback);",
       })
    EXPECT_THAT(Find(text), IsEmpty()) << text;
}

// Names, phones and addresses written in scripts without capitals, after their languages' own
// labels and titles: the label is the evidence, exactly the value is masked, and a value that
// is none stays.
TEST_F(DetectorTest, ContactDataAfterLabelsOfOtherScripts) {
  const std::pair<std::string_view, std::string_view> found[] = {
      {"姓名：王秀英", "王秀英"},
      {"姓名:王秀英，性别：女", "王秀英"},
      {"联系人：李娜", "李娜"},
      {"尊敬的王秀英女士：", "王秀英"},
      {"客戶：譚鶴軒", "譚鶴軒"},
      {"氏名：山田太郎", "山田太郎"},
      {"担当者：佐々木 蒼空", "佐々木 蒼空"},
      {"이름: 김민준", "김민준"},
      {"ФИО: Орлов Пимен Ильич", "Орлов Пимен Ильич"},
      {"Όνομα: Γιώργος Παπαδόπουλος", "Γιώργος Παπαδόπουλος"},
      {"العميل: فاطمة الزهراء، هاتف 0501234567", "فاطمة الزهراء"},
      {"السيد محمد علي", "محمد علي"},
      {"نام: کیوان کلباسی", "کیوان کلباسی"},
      {"שם: משה כהן", "משה כהן"},
      {"नाम: राहुल शर्मा", "राहुल शर्मा"},
      {"श्री राहुल शर्मा", "राहुल शर्मा"},
      {"ชื่อ: สมชาย ใจดี", "สมชาย ใจดี"},
  };
  for (const auto& [text, name] : found)
    EXPECT_THAT(Find(text), ::testing::Contains("PERSON_NAME:" + std::string(name))) << text;
  // Phones after the same languages' labels, in national forms no other rule masks alone.
  EXPECT_THAT(Find("هاتف 0501234567"), ElementsAre("PHONE:0501234567"));
  EXPECT_THAT(Find("τηλ. 6912345678"), ElementsAre("PHONE:6912345678"));
  EXPECT_THAT(Find("電話番号：08294-6-7521"), ElementsAre("PHONE:08294-6-7521"));
  EXPECT_THAT(Find("ტელეფონი: 507 418242"), ElementsAre("PHONE:507 418242"));
  // Documents and birth dates after the same languages' labels.
  for (const auto& [text, finding] :
       std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"护照号码：E12345678", "US_PASSPORT:E12345678"},
           {"여권번호: M12345678", "US_PASSPORT:M12345678"},
           {"номер паспорта: 4510 123456", "NATIONAL_ID:4510 123456"},
           {"СНИЛС: 112-233-445 95", "NATIONAL_ID:112-233-445 95"},
           {"תעודת זהות: 123456782", "NATIONAL_ID:123456782"},
           {"出生日期：1985年3月12日", "DATE_OF_BIRTH:1985年3月12日"},
           {"생년월일: 1985년 3월 12일", "DATE_OF_BIRTH:1985년 3월 12일"},
           {"Дата рождения: 12.03.1985", "DATE_OF_BIRTH:12.03.1985"},
           {"تاريخ الميلاد: 12/03/1985", "DATE_OF_BIRTH:12/03/1985"},
       }) {
    EXPECT_THAT(Find(text), ElementsAre(std::string(finding))) << text;
  }
  // People saying their own name, and a phone glued to its label.
  for (const auto& [text, name] :
       std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"您好，我叫王秀英，", "王秀英"},
           {"私の名前は山田太郎です", "山田太郎"},
           {"제 이름은 김민준입니다", "김민준"},
           {"मेरा नाम राहुल शर्मा है", "राहुल शर्मा"},
           {"ผมชื่อสมชาย ใจดี", "สมชาย ใจดี"},
           {"اسم من کیوان کلباسی است", "کیوان کلباسی"},
       })
    EXPECT_THAT(Find(text), ::testing::Contains("PERSON_NAME:" + std::string(name))) << text;
  EXPECT_THAT(Find("手机13812345678"), ElementsAre("PHONE:13812345678"));
  EXPECT_THAT(Find("我叫了外卖"), IsEmpty());
  EXPECT_THAT(Find("\"%s\" 이름은 잘못된 인코딩 이름임"), IsEmpty());
  EXPECT_THAT(Find("სახელი: ცარიელი არ უნდა იყოს"), IsEmpty());
  // The same labels as the keys of JSON, XML and forms.
  EXPECT_THAT(Find("{\"ФИО\":\"Орлов Пимен\"}"), ElementsAre("PERSON_NAME:Орлов Пимен"));
  EXPECT_THAT(Find("<姓名>王秀英</姓名>"), ElementsAre("PERSON_NAME:王秀英"));
  EXPECT_THAT(Find("地址=北京市朝阳区建国路88号&x=1"),
              ::testing::Contains("STREET_ADDRESS:北京市朝阳区建国路88号"));
  EXPECT_THAT(Find("כתובת: משעול הש\"ך 5, בת ים"),
              ElementsAre("STREET_ADDRESS:משעול הש\"ך 5, בת ים"));
  // Records whose keys are English and whose values are of another script: a vCard's address
  // (RFC 6350's ADR, street third) and an LDIF entry's common name.
  EXPECT_THAT(Find("ADR;TYPE=home:;;建国路88号;北京市;;100022;中国"),
              ::testing::Contains("STREET_ADDRESS:建国路88号"));
  EXPECT_THAT(Find("cn: 王秀英"), ElementsAre("PERSON_NAME:王秀英"));
  EXPECT_THAT(Find("        --ftp-user=用户             设置 ftp 用户名为 <用户>。"), IsEmpty());
  EXPECT_THAT(Find("<이름>에서 설정 데이터를 읽습니다"), IsEmpty());
  EXPECT_THAT(Find("--defsym имя=значение"), IsEmpty());
  EXPECT_THAT(Find("วันเกิด: 12/03/2528"), ElementsAre("DATE_OF_BIRTH:12/03/2528"));
  EXPECT_THAT(Find("วันเกิด: 12/03/2700"), IsEmpty());
  EXPECT_THAT(Find("订单日期：2024年3月12日"), IsEmpty());
  EXPECT_THAT(Find("出生日期：1985年13月12日"), IsEmpty());
  // Addresses after the same languages' labels, to the field's end.
  EXPECT_THAT(Find("收货地址：上海市浦东新区张江路123弄4号501室，电话：13812345678"),
              ElementsAre("STREET_ADDRESS:上海市浦东新区张江路123弄4号501室", "PHONE:13812345678"));
  EXPECT_THAT(Find("〒160-0023 東京都新宿区西新宿1-1-1"),
              ElementsAre("STREET_ADDRESS:160-0023 東京都新宿区西新宿1-1-1"));
  EXPECT_THAT(Find("Адрес: г. Москва, ул. Тверская, д. 7, кв. 12"),
              ElementsAre("STREET_ADDRESS:г. Москва, ул. Тверская, д. 7, кв. 12"));
  EXPECT_THAT(Find("العنوان: شارع الملك فهد 1234، الرياض، هاتف 0501234567"),
              ElementsAre("STREET_ADDRESS:شارع الملك فهد 1234، الرياض", "PHONE:0501234567"));
  for (std::string_view text : {
           "客户要求退款",        "客户：未知",
           "客户：腾讯公司",      "姓名不能为空",
           "联系人：无",          "担当者：未定",
           "고객 서비스 센터",    "Фамилия: не указана",
           "Клиент: ООО Ромашка", "Клієнт: ТОВ СевастопольПром",
           "العميل: لا يوجد",     "הוא אמר לי שהוא יבוא מחר",
           "नाम: कोई नहीं",        "ลูกค้าพอใจมาก",
           "地址：未知",          "所在地：辰男市",
           "地址：0x7ffd5e8c",    "адрес: 0x%08x, размер: %u",
           "Адрес: не указан",
       })
    EXPECT_THAT(Find(text), IsEmpty()) << text;
}

// Chinese may glue a name or an address to its label, with no colon ("联系人王秀英，电话…",
// "收件人王秀英 138…", "地址北京市…"): a family name after a person's label, ending at a
// boundary; generic labels and names that run on into more text stay.
TEST_F(DetectorTest, ChineseValuesGluedToTheirLabels) {
  // A run of Han letters before a phone label is read as a name too, the label with it.
  EXPECT_THAT(Find("联系人王秀英，电话13812345678"),
              ElementsAre("PERSON_NAME:联系人王秀英", "PHONE:13812345678"));
  EXPECT_THAT(Find("联系人欧阳娜娜电话13812345678"),
              ElementsAre("PERSON_NAME:欧阳娜娜", "PHONE:13812345678"));
  EXPECT_THAT(Find("收件人王秀英 13812345678"),
              ElementsAre("PERSON_NAME:王秀英", "PHONE:13812345678"));
  EXPECT_THAT(Find("客户王伟表示满意"), ElementsAre("PERSON_NAME:王伟"));
  EXPECT_THAT(Find("地址北京市朝阳区建国路88号"),
              ElementsAre("STREET_ADDRESS:北京市朝阳区建国路88号"));
  for (std::string_view text :
       {"客户满意度调查", "客户关系管理", "用户管理", "名字解析时出错", "最终用户许可协议",
        "姓名不详", "将地址转换成文件名/行号对", "주소를 알아내는데 실패했습니다"})
    EXPECT_THAT(Find(text), IsEmpty()) << text;
}

// A street in a quoted string: a Python dict's repr, an SQL literal, a CSV cell in quotes.
TEST_F(DetectorTest, StreetsInQuotedStrings) {
  EXPECT_THAT(Find("x 'Hauptstraße 34'"), ElementsAre("STREET_ADDRESS:Hauptstraße 34"));
  EXPECT_THAT(Find("{'residence': 'Wulffstr. 88\\n01826 Dresden', 'x': 1}"),
              ElementsAre("STREET_ADDRESS:Wulffstr. 88"));
  EXPECT_THAT(Find("VALUES ('Via Roma 15', 'Calle Mayor 10')"),
              ElementsAre("STREET_ADDRESS:Via Roma 15", "STREET_ADDRESS:Calle Mayor 10"));
  EXPECT_THAT(Find("Mary O'Brien's note"), ElementsAre("PERSON_NAME:Mary O'Brien's"));
  // Spanish abbreviations of the leading street word, with their full stop.
  EXPECT_THAT(Find("{'address': 'C. Juana Moles 35 Piso 2'}"),
              ElementsAre("STREET_ADDRESS:C. Juana Moles 35 Piso 2"));
  EXPECT_THAT(Find("envío a Pje. Los Olmos 12, Lima"),
              ElementsAre("STREET_ADDRESS:Pje. Los Olmos 12"));
}

// American Express calls its security code the CID, some processors the CVN: after a card.
TEST_F(DetectorTest, CardCodesByOtherNames) {
  EXPECT_THAT(Find("American Express | 378282246310005 12/26 | CID: 7511 |"),
              ElementsAre("CREDIT_CARD:378282246310005", "CARD_CVV:7511"));
  EXPECT_THAT(Find("card 4111111111111111 cvn 123"),
              ElementsAre("CREDIT_CARD:4111111111111111", "CARD_CVV:123"));
  EXPECT_THAT(Find("<img src=\"cid:image001.png@01D9\">"), IsEmpty());
}

TEST_F(DetectorTest, ProviderTokenLookalikes) {
  // Object ids, digests, user names, prose: none is a credential.
  EXPECT_THAT(Find("customer cus_NffrFeUfNV2Hib charged via pi_3MtwBwLkdIwHu7ix28a3tqPa"),
              IsEmpty());
  EXPECT_THAT(Find("commit 9fceb02d0ae598e95dc970b74767f19372d61af8 merged"), IsEmpty());
  EXPECT_THAT(Find("Bearer token expired; the basic idea is to retry"), IsEmpty());
  EXPECT_THAT(Find("Authorization: Bearer ${API_TOKEN}"), IsEmpty());
  EXPECT_THAT(Find("Authorization: Bearer <token>"), IsEmpty());
  EXPECT_THAT(Find("SKU SKA1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6 listed"), IsEmpty());
  EXPECT_THAT(Find("glpat-xxxxxxxxxxxxxxxxxxxx and hf_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"),
              IsEmpty());
  EXPECT_THAT(Find("https://deploy-bot-2024-ci@gitlab.example.com/group/project.git"), IsEmpty());
  EXPECT_THAT(Find("the password policy requires 12 characters; password reset for 4411"),
              IsEmpty());
  // `password` logs in wherever it was set as the password.
  EXPECT_THAT(Find("PASSWORD=\"password\"\\nOWNER=postgres@db01"),
              ElementsAre("GENERIC_SECRET:password"));
  EXPECT_THAT(Find("login ok password=password duration_ms=151"),
              ElementsAre("GENERIC_SECRET:password"));
  EXPECT_THAT(Find("live_stream_2024_highlights_final_cut test_user_registration_flow"), IsEmpty());
}

// Values inside encoded text: a query string's %40 (and %2540, encoded twice), '+' for a space,
// HTML character references, "[at]" spellings. Found in the decoded text, masked where they
// stand in the original.
TEST_F(DetectorTest, EncodedValues) {
  EXPECT_THAT(Find("GET /api/users?email=john.doe%40example.com&page=2"),
              ElementsAre("EMAIL:john.doe%40example.com"));
  EXPECT_THAT(Find("redirect=%2Fcb%3Femail%3Djane.smith%2540corp.io"),
              ElementsAre("EMAIL:jane.smith%2540corp.io"));
  EXPECT_THAT(Find("contact: maria&#64;example.org or maria&#x40;example.org"),
              ElementsAre("EMAIL:maria&#64;example.org", "EMAIL:maria&#x40;example.org"));
  EXPECT_THAT(Find("write to john [at] example [dot] com"),
              ElementsAre("EMAIL:john [at] example [dot] com"));
  EXPECT_THAT(Find("phone=%2B1%20415%20555%202671&ssn=536%2D22%2D1234"),
              ElementsAre("PHONE:%2B1%20415%20555%202671", "US_SSN:536%2D22%2D1234"));
  EXPECT_THAT(
      Find(R"({"email":"john\u0040example.com","name":"Jos\u00e9 Garc\u00eda"})"),
      ElementsAre(R"(EMAIL:john\u0040example.com)", R"(PERSON_NAME:Jos\u00e9 Garc\u00eda)"));
  EXPECT_THAT(Find("q=Dear+Maria+Garcia%2C+your+order"), ElementsAre("PERSON_NAME:Maria+Garcia"));
  // Spelled out with words: " dot " and " at ", in any case.
  EXPECT_THAT(Find("reach me: john dot doe at gmail dot com thanks"),
              ElementsAre("EMAIL:john dot doe at gmail dot com"));
  EXPECT_THAT(Find("mail Ana.Lima AT example DOT org"),
              ElementsAre("EMAIL:Ana.Lima AT example DOT org"));
  // Encodings that hold nothing change nothing.
  EXPECT_THAT(Find("discount 20%25 off (at most) [DOT] {x} &amp; more"), IsEmpty());
  EXPECT_THAT(Find("look at the results dot; the dot product at scale; visit example dot com"),
              IsEmpty());
}

// Unicode forms of ASCII that people's tools write: fullwidth characters as CJK input methods
// type them, word processors' non-breaking hyphens and spaces, zero-width characters pasted
// inside a value, the digits of other scripts. Folded to ASCII, found, masked where they stand.
TEST_F(DetectorTest, UnicodeFormsOfAscii) {
  EXPECT_THAT(Find("ssn ５３６-２２-１２３４"), ElementsAre("US_SSN:５３６-２２-１２３４"));
  EXPECT_THAT(Find("mail jane．doe＠example．com"), ElementsAre("EMAIL:jane．doe＠example．com"));
  EXPECT_THAT(Find("card ４１１１ １１１１ １１１１ １１１１"),
              ElementsAre("CREDIT_CARD:４１１１ １１１１ １１１１ １１１１"));
  EXPECT_THAT(Find("ssn 536‑22‑1234, again 5​36-22-1234"),
              ElementsAre("US_SSN:536‑22‑1234", "US_SSN:5​36-22-1234"));
  EXPECT_THAT(Find("tel ٤١٥-٥٥٥-٠١٣٢"), ElementsAre("PHONE:٤١٥-٥٥٥-٠١٣٢"));
  // Bangladesh's, Thailand's and Myanmar's digits (PHP's Faker writes bn_BD phones in them).
  EXPECT_THAT(Find("tel. +৮৮০৫৪০৩৩১২"), ElementsAre("PHONE:+৮৮০৫৪০৩৩১২"));
  EXPECT_THAT(Find("phone ๐๘๑๒๓๔๕๖๗๘"), ElementsAre("PHONE:๐๘๑๒๓๔๕๖๗๘"));
  EXPECT_THAT(Find("ssn ၅၃၆-၂၂-၁၂၃၄"), ElementsAre("US_SSN:၅၃၆-၂၂-၁၂၃၄"));
  EXPECT_THAT(Find("call +1 415 555 0132"), ElementsAre("PHONE:+1 415 555 0132"));
  // Forms other tools write: CLDR's narrow no-break space between French digit groups, a card
  // grouped with no-break spaces as word processors keep it, U+2212 minus, a fullwidth '+',
  // a byte-order mark pasted inside an address.
  EXPECT_THAT(Find("t\u00e9l. 06\u202f12\u202f34\u202f56\u202f78"),
              ElementsAre("PHONE:06\u202f12\u202f34\u202f56\u202f78"));
  EXPECT_THAT(Find("card 4111\u00a01111\u00a01111\u00a01111"),
              ElementsAre("CREDIT_CARD:4111\u00a01111\u00a01111\u00a01111"));
  EXPECT_THAT(Find("ssn 536\u221222\u22121234"), ElementsAre("US_SSN:536\u221222\u22121234"));
  EXPECT_THAT(
      Find("phone \uff0b\uff11 \uff14\uff11\uff15 \uff15\uff15\uff15 \uff10\uff11\uff13\uff12"),
      ElementsAre(
          "PHONE:\uff0b\uff11 \uff14\uff11\uff15 \uff15\uff15\uff15 \uff10\uff11\uff13\uff12"));
  EXPECT_THAT(Find("mail jane.doe\ufeff@example.com"),
              ElementsAre("EMAIL:jane.doe\ufeff@example.com"));
  // Text of those scripts that holds no value changes nothing.
  EXPECT_THAT(Find("東京都港区１－２－３ 第２ビル、Привет — мир 2024"), IsEmpty());
}

// Base64 and hex tokens that hold text are decoded and scanned; a finding masks the whole
// token. Tokens that hold binary (hashes, keys, ids) are left alone.
TEST_F(DetectorTest, Base64AndHexText) {
  EXPECT_THAT(Find("user=ZGF2aWQuc21pdGhAZXhhbXBsZS5jb20= logged in"),
              ElementsAre("EMAIL:ZGF2aWQuc21pdGhAZXhhbXBsZS5jb20="));
  // Unpadded ("John Smith, SSN 123-45-6789"); '+' inside, before and after the token run.
  EXPECT_THAT(Find("payload Sm9obiBTbWl0aCwgU1NOIDEyMy00NS02Nzg5"),
              ElementsAre(::testing::EndsWith(":Sm9obiBTbWl0aCwgU1NOIDEyMy00NS02Nzg5")));
  EXPECT_THAT(Find("msg Pj8+IHRvIGpvQGV4YW1wbGUuY29t sent"),
              ElementsAre("EMAIL:Pj8+IHRvIGpvQGV4YW1wbGUuY29t"));
  EXPECT_THAT(Find("msg bWFpbCBqb0BleC5jb20gPj4+IG9r sent"),
              ElementsAre("EMAIL:bWFpbCBqb0BleC5jb20gPj4+IG9r"));
  EXPECT_THAT(Find("blob 6a6f686e2e646f65406578616d706c652e636f6d end"),
              ElementsAre("EMAIL:6a6f686e2e646f65406578616d706c652e636f6d"));
  // base64url of {"ssn":"536-22-1234"}
  EXPECT_THAT(Find("claims eyJzc24iOiI1MzYtMjItMTIzNCJ9 ok"),
              ElementsAre("US_SSN:eyJzc24iOiI1MzYtMjItMTIzNCJ9"));
  EXPECT_THAT(Find("sha1 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12 etag "
                   "d41d8cd98f00b204e9800998ecf8427e id 123e4567-e89b-12d3-a456-426614174000 "
                   "note VGhpcyBpcyBub3QgYSBzZWNyZXQ= Internationalization"),
              IsEmpty());
  // A name in a token's text: "Hi Maria, please call me. Regards, Tom Baker". A line of a PEM
  // certificate holds fragments of its subject ("…the QuoVadis Root CA 3 Cert"): no name.
  EXPECT_THAT(
      Find("body SGkgTWFyaWEsIHBsZWFzZSBjYWxsIG1lLiBSZWdhcmRzLCBUb20gQmFrZXI= end"),
      ElementsAre("PERSON_NAME:SGkgTWFyaWEsIHBsZWFzZSBjYWxsIG1lLiBSZWdhcmRzLCBUb20gQmFrZXI="));
  EXPECT_THAT(Find("aXR1dGVzIGFjY2VwdGFuY2Ugb2YgdGhlIFF1b1ZhZGlzIFJvb3QgQ0EgMyBDZXJ0"), IsEmpty());
  // Wrapped at 76 (PostgreSQL's encode(…, 'base64'), MIME): the address is split across the
  // line break, "…client ana.lim" and "a@example.com today".
  const std::string wrapped =
      "UGxlYXNlIGZvcndhcmQgdGhlIGF0dGFjaGVkIGludm9pY2UgdG8gb3VyIGNsaWVudCBhbmEubGlt\n"
      "YUBleGFtcGxlLmNvbSB0b2RheQ==";
  EXPECT_THAT(Find(wrapped), ElementsAre("EMAIL:" + wrapped));
  // The same text as other tools encode it: `xxd -p` (hex, 60 a line), `openssl base64` (64 a
  // line), Python's email.mime (76 a line, CRLF), Node's base64url (unpadded). Each comes back
  // as one finding over the whole of it.
  for (const std::string& encoded :
       {std::string("437573746f6d657220636f6d706c61696e743a20706c6561736520726566\n"
                    "756e64204d61726961204761726369612c20636172642034313131203131\n"
                    "3131203131313120313131312c20656d61696c206d617269612e67617263\n"
                    "6961406578616d706c652e6f72672c2070686f6e65202b31203431352035\n"
                    "353520323637312e"),
        std::string("Q3VzdG9tZXIgY29tcGxhaW50OiBwbGVhc2UgcmVmdW5kIE1hcmlhIEdhcmNpYSwg\n"
                    "Y2FyZCA0MTExIDExMTEgMTExMSAxMTExLCBlbWFpbCBtYXJpYS5nYXJjaWFAZXhh\n"
                    "bXBsZS5vcmcsIHBob25lICsxIDQxNSA1NTUgMjY3MS4="),
        std::string(
            "Q3VzdG9tZXIgY29tcGxhaW50OiBwbGVhc2UgcmVmdW5kIE1hcmlhIEdhcmNpYSwgY2FyZCA0MTEx\r\n"
            "IDExMTEgMTExMSAxMTExLCBlbWFpbCBtYXJpYS5nYXJjaWFAZXhhbXBsZS5vcmcsIHBob25lICsx\r\n"
            "IDQxNSA1NTUgMjY3MS4="),
        std::string(
            "Q3VzdG9tZXIgY29tcGxhaW50OiBwbGVhc2UgcmVmdW5kIE1hcmlhIEdhcmNpYSwgY2FyZCA0MTExIDEx"
            "MTEgMTExMSAxMTExLCBlbWFpbCBtYXJpYS5nYXJjaWFAZXhhbXBsZS5vcmcsIHBob25lICsxIDQxNSA1"
            "NTUgMjY3MS4")}) {
    const auto found = Find(encoded);
    ASSERT_EQ(found.size(), 1u) << encoded;
    EXPECT_TRUE(found[0].ends_with(":" + encoded)) << found[0];
  }
}

TEST_F(DetectorTest, CardsAndIbansWithOtherSeparators) {
  EXPECT_THAT(Find("card 4111.1111.1111.1111 ok"), ElementsAre("CREDIT_CARD:4111.1111.1111.1111"));
  EXPECT_THAT(Find("card 4111_1111_1111_1111 ok"), ElementsAre("CREDIT_CARD:4111_1111_1111_1111"));
  EXPECT_THAT(Find("amex 3782.822463.10005"), ElementsAre("CREDIT_CARD:3782.822463.10005"));
  EXPECT_THAT(Find("card 4111-1111 1111-1111 ok"), ElementsAre("CREDIT_CARD:4111-1111 1111-1111"));
  EXPECT_THAT(Find("iban DE89-3704-0044-0532-0130-00 ok"),
              ElementsAre("IBAN:DE89-3704-0044-0532-0130-00"));
  EXPECT_THAT(Find("iban DE89.3704.0044.0532.0130.00"),
              ElementsAre("IBAN:DE89.3704.0044.0532.0130.00"));
  // Luhn fails, a decimal, a version: not cards; and a fourth group is no Cisco MAC.
  EXPECT_THAT(Find("n 4111.1111.1111.1112 d 1234567890123.45 v 2024.1111.1111.1111"), IsEmpty());
  EXPECT_THAT(Find("cisco 0011.2233.4455 up"), ElementsAre("MAC_ADDRESS:0011.2233.4455"));
}

TEST_F(DetectorTest, InternationalisedEmail) {
  EXPECT_THAT(Find("j\xC3\xBCrgen.m\xC3\xBCller@stra\xC3\x9F"
                   "e.de wrote"),
              ElementsAre("EMAIL:j\xC3\xBCrgen.m\xC3\xBCller@stra\xC3\x9F"
                          "e.de"));
  // An address before a UTF-8 apostrophe ends at its TLD.
  EXPECT_THAT(Find("bob@example.com\xE2\x80\x99s inbox"), ElementsAre("EMAIL:bob@example.com"));
}

// Streets as Europe writes them: the name first, the number after, the postcode before the
// city; French numbers first with the street word in lower case.
// Phones as the rest of faker's locales write them (measured on every locale faker ships, in
// English sentences with and without a phone word): shapes no earlier rule read, each a phone
// by its shape alone or after a word that says so; and what looked like them in Debian's
// documentation and did not stay masked.
TEST_F(DetectorTest, PhonesOfMoreCountries) {
  const std::pair<std::string_view, std::string_view> found[] = {
      {"number 0178-78-6617", "0178-78-6617"},        // Japan: 4-2-4 is no ISO date
      {"8 (987) 188-16-01", "8 (987) 188-16-01"},     // Russia: trunk 8, area in parentheses
      {"call 1 (800) 555-0199", "1 (800) 555-0199"},  // the same with NANP's 1
      // As PHP's Faker writes them: a trunk prefix or "00" and a country code before the area
      // code in parentheses (Hungary, Turkey, Poland).
      {"06(71)893-867", "06(71)893-867"},
      {"tel. 0 (547) 923 00 56", "0 (547) 923 00 56"},
      {"0048(05)8641456", "0048(05)8641456"},
      {"Ann Lee,ann@x.org,1 (605) 188-2301,Town", "1 (605) 188-2301"},  // a CSV field's comma
      {"tel. (8 46) 86 02 75", "(8 46) 86 02 75"},    // Lithuania: trunk and area code, spaced
      {"reach out on 974 493-0636", "974 493-0636"},  // Quebec: a space, then a dash
      {"1 328 340-3037", "1 328 340-3037"},
      {"056/565 958", "056/565 958"},             // Belgium, Slovakia: area code, slash
      {"+36 20/974-4645", "+36 20/974-4645"},     // Hungary
      {"text +46593634 after 5pm", "+46593634"},  // E.164 of eight or nine digits
      {"left a voicemail from 77 94 38 76", "77 94 38 76"},
      {"reach out on 0504487659", "0504487659"},
      {"ring me on 9871 8816", "9871 8816"},
      {"Tel. 77 33 96", "77 33 96"},  // Luxembourg's six digits, labeled
      {"phone: 725 099", "725 099"},
      {"mobile 686 937-9363, poste 400", "686 937-9363, poste 400"},  // an extension
      {"收货人: 王秀英 13812345678", "13812345678"},  // a Chinese mobile beside the name
      // As Python's Faker writes them: an extension glued on, "001" before NANP.
      {"281-098-3336x90204", "281-098-3336x90204"},
      {"Emilia Capek, qmaier@chello.at, (767)463-2794x8619", "(767)463-2794x8619"},
      {"Lisa Smith, stephenlindsey@fox.org, 001-137-319-5672x5614", "001-137-319-5672x5614"},
      // After whom to call, and spaced groups in a contact's line.
      {"Contact Brandy Martin at 48705086 for details.", "48705086"},
      {"Contact Dr. Kyle Morton at 09098790888 for details.", "09098790888"},
      {"Contact Vitor Gabriel Novaes at 61 9150-3109 for details.", "61 9150-3109"},
      {"Lucas Gabriel Rodrigues, caua40@silveira.com, 11 4540 6114", "11 4540 6114"},
      // Right after the name, a letter's signature or a row's next cell: the person's number,
      // with nothing else on the line.
      {"Thanks for your help! -- Bryan Masuda, 5518518400", "5518518400"},
      {"Thanks for your help! -- Lars Persson, 1878-780909", "1878-780909"},
      {"Karsten White,29789293,Højbakkegård Alle 74,Skjern", "29789293"},
      // In a contact's row: a comma after it separates cells, not decimals; an area code and
      // the number in two groups; "00" and a country code; a list typed with spaces.
      {"Caterina Hintz,gaylord.keven@gerhold.com,35684723,81 King's Avenue,Kowloon", "35684723"},
      {"Wilson Lopes,33 59461289,03080 Parisian Underpass,Marília", "33 59461289"},
      {"Ashley Rodriguez, hayesbrooke@fuentes-carrillo.biz, 5224-0657", "5224-0657"},
      {"Louis Lopes,0033784193257,9 rue Chantal Benard,Rezé", "0033784193257"},
      {"Dr. Ivar Kristiansen, stine63@gmail.com, 10083315", "10083315"},
      // The country code in the parentheses after '+'; a trunk 0 and groups of spaces,
      // dashes or one slash (Turkey's, Hungary's).
      {"Neringa Kiska, ugne93@zukauskas.com, +(370) 83138167", "+(370) 83138167"},
      {"Karakucak Eraslan, ssafak@durmus.org, 0705-044 3577", "0705-044 3577"},
      {"Dr. Szabo Agnes, gyorgy93@gmail.com, 06-9/380 2253", "06-9/380 2253"},
      // A trunk digit alone first, Russia's toll-free numbers, in a contact's line.
      {"Alla Noskova,eagafonov@gorbunov.ru,8-800-818-4405,Town", "8-800-818-4405"},
      // Six digits after the label, a line of its own.
      {"mobile 389285", "389285"},
      {"Tel. 739297", "739297"},
      // Whole countries' own shapes, bare: France's pairs (dotted ones are no IP address),
      // Russia's trunk 8 or code 7 and 3-digit code, China's mobiles in 3-4-4.
      {"01.23.45.67.89", "01.23.45.67.89"},
      {"ok 06-12-34-56-78.", "06-12-34-56-78"},
      {"Иван 8-800-818-4405", "8-800-818-4405"},
      {"8 916 123 45 67", "8 916 123 45 67"},
      {"7 916 123-45-67", "7 916 123-45-67"},
      {"138-0013-8000", "138-0013-8000"},
      {"王伟 138 0013 8000", "138 0013 8000"},
      // "00", the country code and the trunk 0 kept in parentheses.
      {"0046 (0)563-35 96 59", "0046 (0)563-35 96 59"},
      {"bel 0049 (0) 30 1234 5678 an", "0049 (0) 30 1234 5678"},
  };
  for (const auto& [text, phone] : found)
    EXPECT_THAT(Find(text), ::testing::Contains("PHONE:" + std::string(phone))) << text;
  for (std::string_view text :
       {"Build-Depend on snowball-data >= 0+20210120",
        "autoconf-dickey (>= 2.52+20210509)",
        "llvm-toolchain-snapshot (1:14~++20220123085548+413684313d9d-1~exp1)",
        "U+0679-0687, U+0691",
        "+00000000",
        "2024-01-15 10:00",
        "on 12/05/2023",
        "phone 12/05/24",
        "page 8 (see 12)",
        "we reach out at 5 pm",
        "ring buffer 4096 1024",
        "Order 13812345678 for John Smith",
        "John Smith 13812345678",
        "1920x1080",
        "SKU 12345x42",
        "Contact Ann Lee at 2024-05-12",
        "Contact Ann Lee at 3 pm",
        "Meet John Smith at 10 30 2024",
        "Ann Lee, ann@x.org, 2024 05 12",
        "Ann Lee, ann@x.org, 12 05 2024",
        "Copyright 2002-2012, 2016-2021  Bruno Haible <bruno@clisp.org>",
        "Jane Doe, jane@x.org, 1234567890,50 EUR",
        "version 389285",
        "Ann Lee, 12345",
        "Ann Lee, ann@x.org, 01/02/2024",
        "Ann Lee, ann@x.org, 0 12 2024",
        "00.12.34.56.78",
        "v 10.20.30.40.50",
        "128-0013-8000",
        "8-100-20-3000",
        "2-916-123-4567",
        "0046 (0)5",
        "page 0012 (0) 30"})
    EXPECT_THAT(Find(text), ::testing::Not(::testing::Contains(::testing::StartsWith("PHONE:"))))
        << text;
}

// A postal address after the key that names it, whatever the street looks like ("address:",
// "home_address=", "Adresse:"): the key alone says nothing ("address" names e-mail, IP, MAC and
// wallet addresses too), so the value must read as a street line, a house number beside a
// capitalised word, and ends at the town, the sentence or the message going on.
TEST_F(DetectorTest, AddressAfterItsKey) {
  const std::pair<std::string_view, std::string_view> found[] = {
      {"address: Aleksilinja 4", "Aleksilinja 4"},
      {"Address: Jaroslava Foglara 5 Suite 440", "Jaroslava Foglara 5 Suite 440"},
      {"home_address=Höggen 10b", "Höggen 10b"},
      {"{\"address\": \"Voigtslach 4, 00100 Helsinki\"}", "Voigtslach 4"},
      {"Adresse: Voigtslach 4 7 OG", "Voigtslach 4 7 OG"},
      {"Address: Tusarova 431. Please ring twice", "Tusarova 431"},
      {"address: 88108 Becker Manors Suite 692 Thanks.", "88108 Becker Manors Suite 692"},
      {"shipping_address: 147 Daako Link Apt. 987, Accra", "147 Daako Link Apt. 987"},
  };
  for (const auto& [text, street] : found)
    EXPECT_THAT(Find(text), ::testing::Contains("STREET_ADDRESS:" + std::string(street))) << text;
  for (std::string_view text :
       {"of/address: Add support for 3 address cell bus", "address: 0x7ffd5e8c",
        "listen_address: Localhost 8080", "Address: Unknown", "The address: is 5 bytes wide",
        " - #2560 Link error xdgmime.c"})
    EXPECT_THAT(Find(text),
                ::testing::Not(::testing::Contains(::testing::StartsWith("STREET_ADDRESS:"))))
        << text;
  EXPECT_THAT(Find("ip_address: 10.0.0.1"), ElementsAre("IP_ADDRESS:10.0.0.1"));
  EXPECT_THAT(Find("email_address: ann@example.com"), ElementsAre("EMAIL:ann@example.com"));
}

// What another country calls a social security number, after the same word: its national id
// (a PESEL, a CPF, a henkilötunnus, a codice fiscale, an RRN), not nine digits.
TEST_F(DetectorTest, OtherCountriesNumbersAfterSsn) {
  for (std::string_view id : {"81102428859", "59863172464", "230785-0268", "080488-104E",
                              "APIXUS78L37C478W", "ZZ827685T", "I859557267", "720627-1837478"})
    EXPECT_THAT(Find("member Ann Lee ssn " + std::string(id)),
                ::testing::Contains("NATIONAL_ID:" + std::string(id)))
        << id;
  EXPECT_THAT(Find("SSN: 123-45-6789"), ElementsAre("US_SSN:123-45-6789"));
  // A UK NI number spaced as Python Faker's en_GB ssn() and people write it, after `ssn`.
  EXPECT_THAT(Find("{'ssn': 'ZZ 513137 T'}"), ElementsAre("NATIONAL_ID:ZZ 513137 T"));
  EXPECT_THAT(Find("ssn: AB 123456 C"), ElementsAre("UK_NINO:AB 123456 C"));
  EXPECT_THAT(Find("NI number on file AB 123456 C."), ElementsAre("UK_NINO:AB 123456 C"));
  for (std::string_view text : {"ssn 12", "SSN required", "SSN Office 2024 report"})
    EXPECT_THAT(Find(text), IsEmpty()) << text;
}

TEST_F(DetectorTest, StreetsOfOtherCountries) {
  // Australian and New Zealand street types, Slovene and Croatian "ulica" after the name,
  // Dutch "-baan" (Python Faker's en_AU, en_NZ, sl_SI, nl_NL).
  for (std::string_view street :
       {"905 Raymond Slope", "5 Kowhaitaimaunga Amble", "Robičeva ulica 2b", "Aaliyahbaan 53"})
    EXPECT_THAT(Find("{'residence': '" + std::string(street) + "'}"),
                ElementsAre("STREET_ADDRESS:" + std::string(street)))
        << street;
  EXPECT_THAT(Find("the slope 5 degrees"), IsEmpty());
  EXPECT_THAT(Find("Home: 221B Baker Street, London"),
              ElementsAre("STREET_ADDRESS:221B Baker Street"));
  EXPECT_THAT(Find("Ship to 34 Eli Circuit Apt. 796"),
              ElementsAre("STREET_ADDRESS:34 Eli Circuit Apt. 796"));
  const std::pair<const char*, const char*> cases[] = {
      {"ship to Hauptstra\xC3\x9F"
       "e 5, 10115 Berlin",
       "Hauptstra\xC3\x9F"
       "e 5, 10115 Berlin"},
      {"Lieferadresse: K\xC3\xB6nigsallee 92a, 40212 D\xC3\xBCsseldorf",
       "K\xC3\xB6nigsallee 92a, 40212 D\xC3\xBCsseldorf"},
      {"Berliner Stra\xC3\x9F"
       "e 17 is closed",
       "Berliner Stra\xC3\x9F"
       "e 17"},
      {"address: 12 rue de la Paix, 75002 Paris", "12 rue de la Paix, 75002 Paris"},
      {"5 bis, avenue Foch", "5 bis, avenue Foch"},
      // A repeated number's word or letter, a range, a title in the street's name.
      {"Address: 276 QUATER, impasse Laetitia Goncalves; x",
       "276 QUATER, impasse Laetitia Goncalves"},
      {"Address: 2881 B rue Julie Diaz; x", "2881 B rue Julie Diaz"},
      {"Address: 8-37, via Marcella Fontana; x", "8-37, via Marcella Fontana"},
      {"Address: 55, via Dr. Patrizio Neri; x", "55, via Dr. Patrizio Neri"},
      {"Address: 1, via Dott.ssa Amata Sangiorgi; x", "1, via Dott.ssa Amata Sangiorgi"},
      // The number before a compound; Denmark's streets named as places; Polish leading words.
      {"your parcel to 1784 Karistraat is on its way", "1784 Karistraat"},
      {"Ship to: Olav Abbott, S\xC3\xB8krogen 9, N\xC3\xB8rre Nebel", "S\xC3\xB8krogen 9"},
      {"Ship to: Olav Abbott, Vintoften 83, Vamdrup", "Vintoften 83"},
      {"Ship to: Waldemar Winnicka, pasa\xC5\xBC Katy\xC5\x84ski 16, \xC5\x81"
       "askarzew",
       "pasa\xC5\xBC Katy\xC5\x84ski 16"},
      {"Direcci\xC3\xB3n: Calle Mayor 10, 28013 Madrid", "Calle Mayor 10, 28013 Madrid"},
      {"indirizzo via Roma 15, 00184 Roma", "via Roma 15, 00184 Roma"},
      {"Kerkstraat 12, 1017 GC Amsterdam", "Kerkstraat 12, 1017 GC Amsterdam"},
      {"ul. Marsza\xC5\x82kowska 84/92, 00-514 Warszawa",
       "ul. Marsza\xC5\x82kowska 84/92, 00-514 Warszawa"},
      {"Drottninggatan 53, 111 21 Stockholm", "Drottninggatan 53, 111 21 Stockholm"},
      {"Rua Augusta 27, Lisboa", "Rua Augusta 27"},
      // Czech, Slovak, Croatian: an adjective or a possessive alone.
      {"ship to Host\xC3\xBDnsk\xC3\xA1 8, 709 82 Fr\xC3\xBD"
       "dek-M\xC3\xADstek please",
       "Host\xC3\xBDnsk\xC3\xA1 8, 709 82 Fr\xC3\xBD"
       "dek-M\xC3\xADstek"},
      {"Lieferadresse: Kutinska 751", "Kutinska 751"},
      // Flats and floors after the number, as each country writes them.
      {"Boberstr. 574 Zimmer 149", "Boberstr. 574 Zimmer 149"},
      {"Björkgränden 4 Lgh. 149", "Björkgränden 4 Lgh. 149"},
      {"Kerkstraat 5 bus 3", "Kerkstraat 5 bus 3"},
      {"ul. Mikołajczyk 41b m. 504", "ul. Mikołajczyk 41b m. 504"},
      {"Daangracht 431 II", "Daangracht 431 II"},
      {"Hauptstraße 5 3. Stock", "Hauptstraße 5 3. Stock"},
      {"Østre Alle 84A, 4. tv", "Østre Alle 84A, 4. tv"},
      // French with a comma after the number; Russian's house word; words of other
      // alphabets before an English suffix (Python's Faker writes its locales' so).
      {"Ship to: 595, boulevard de Guillot", "595, boulevard de Guillot"},
      {"Ship to: ул. Снежная, д. 73", "ул. Снежная, д. 73"},
      {"набережна Советская, 464", "набережна Советская, 464"},
      {"289 Кесьов Heights", "289 Кесьов Heights"},
      {"060 斉藤 Street", "060 斉藤 Street"},
      {"Ahmedjordet 31", "Ahmedjordet 31"},
      {"Campo da Mota, 3", "Campo da Mota, 3"},
      {"Privada Flórez 325 Interior 702", "Privada Flórez 325 Interior 702"},
      // The house number's own word before it: Indonesia's "No.", Germany's "Nr.".
      {"Ship to: Jl. Cikapayang No. 005", "Jl. Cikapayang No. 005"},
      {"Gang Ciumbuleuit No. 742", "Gang Ciumbuleuit No. 742"},
      {"Hauptstraße Nr. 5", "Hauptstraße Nr. 5"},
      // Finnish, Turkish and Nordic names no earlier word list held.
      {"meet me at Koivistokaari 303 tomorrow", "Koivistokaari 303"},
      {"Kocatepe Caddesi 74", "Kocatepe Caddesi 74"},
      {"Nalbant Sokak 369", "Nalbant Sokak 369"},
      {"Søndre Heggebakken 7", "Søndre Heggebakken 7"},
      {"Södra Bäckallén 554", "Södra Bäckallén 554"},
      {"Mato\xC5\xA1ova 751", "Mato\xC5\xA1ova 751"},
      {"F\xC3\xA1ndlyho 8", "F\xC3\xA1ndlyho 8"},
      {"Dobri\xC5\xA1"
       "e Cesari\xC4\x87"
       "a 8",
       "Dobri\xC5\xA1"
       "e Cesari\xC4\x87"
       "a 8"},
      {"Daxnerovo n\xC3\xA1mestie 757", "Daxnerovo n\xC3\xA1mestie 757"},
      // Latvian gatve and laukums, Polish lower-case street words, Belgian drève, the part
      // of a Swedish or Norwegian street, Spanish and Portuguese street types.
      {"Lieferadresse: Zelti\xC5\x86u laukums 164", "Zelti\xC5\x86u laukums 164"},
      {"ship to szosa Gajda 877, 70-318 Po\xC5\x82"
       "aniec please",
       "szosa Gajda 877, 70-318 Po\xC5\x82"
       "aniec"},
      {"moved to \xC3\x96vre Granv\xC3\xA4gen 298 last week", "\xC3\x96vre Granv\xC3\xA4gen 298"},
      {"Fabriksg\xC3\xA4rdet 133", "Fabriksg\xC3\xA4rdet 133"},
      {"ship to Pol\xC3\xADgono Lilia, 29, 79859 Talavera de la Reina please",
       "Pol\xC3\xADgono Lilia, 29, 79859 Talavera de la Reina"},
      {"Jardim Mara Amaral 20, 9983-064 Braga", "Jardim Mara Amaral 20, 9983-064 Braga"},
      // Named after a person: the name and the street are one span.
      {"Lieferadresse: Dr\xC3\xA8ve Hatouma 832", "Dr\xC3\xA8ve Hatouma 832"},
      {"Lieferadresse: Bajada Barbara S\xC3\xA1"
       "enz 3",
       "Bajada Barbara S\xC3\xA1"
       "enz 3"},
  };
  for (const auto& [text, street] : cases)
    EXPECT_THAT(Find(text), ::testing::Contains(std::string("STREET_ADDRESS:") + street)) << text;
  for (const char* text :
       {"Chapter 5 of the report", "Microsoft Windows 10 and Apollo 11", "Engineering 2 floors",
        "Spring 2024 release", "sent via Google 3 times", "Room 12 at 10:30", "hasta al 5 de mayo",
        "version 2 released", "page 10", "3 items in the cart", "Argentina 2, Brazil 1",
        "Nebraska 5, Alaska 3", "Cristina 3 times", "shipped to Slovakia 12 units", "Dr\xC3\xA8ve"})
    EXPECT_THAT(Find(text), IsEmpty()) << text;
}

// Streets as Ruby's Faker writes them for its locales (tests/data/rbfaker_contacts.rb): street
// words in lower case before the name in Cyrillic, none of Hebrew's and Arabic's letters
// capitalised, Estonian, Lithuanian and Armenian words after the name, Malay, Catalan and
// Quebec's words before it, a flat's number before the house's, Singapore's numbered avenues,
// and the units after all of them.
TEST_F(DetectorTest, StreetsOfRubysFakerLocales) {
  for (const char* street :
       {"\xD1\x83\xD0\xBB\xD0\xB8\xD1\x86\xD0\xB0 "
        "\xD0\x92\xD0\xB8\xD1\x85\xD1\x80\xD0\xB5\xD0\xBD, "
        "336",  // улица Вихрен, 336
        "\xD0\xB1\xD1\x83\xD0\xBB. "
        "\xD0\x92\xD0\xBE\xD0\xB9\xD0\xB2\xD0\xBE\xD0\xB4\xD0\xB8\xD0\xBD\xD0"
        "\xB0, 69",  // бул.
                     // Войводина,
                     // 69
        "\xD0\xBF\xD1\x80\xD0\xBE\xD0\xB2. "
        "\xD0\xA0\xD1\x83\xD0\xB4\xD0\xBD\xD0\xBE\xD0\xB3\xD0\xBE, 22 "
        "\xD0\xBA\xD0\xB2. 9",  // пров.
                                // Рудного,
                                // 22
                                // кв. 9
        "\xD7\xA9\xD7\x93\xD7\xA8\xD7\x95\xD7\xAA \xD7\x92\xD7\x93 "
        "\xD7\x9C\xD7\x95\xD7\x99 17",  // שדרות גד לוי 17
        "74 \xD7\xA8\xD7\x97\xD7\x95\xD7\x91 "
        "\xD7\x96\xD7\x91\xD7\x95\xD7\x9C\xD7\x95\xD7\x9F Apt. "
        "134",  // 74 רחוב זבולון
        "500 \xD8\xB4\xD8\xA7\xD8\xB1\xD8\xB9 \xD9\x82\xD8\xB7\xD8\xB1",  // 500
                                                                          // شارع
                                                                          // قطر
        "Eskola tee 32", "Laisv\xC4\x97s aik\xC5\xA1t\xC4\x97 43", "Ozo plentas 19",
        "\xD4\xB6\xD5\xA1\xD6\x84\xD5\xB5\xD5\xA1\xD5\xB6 "
        "\xD6\x83\xD5\xB8\xD5\xB2\xD5\xB8\xD6\x81 "
        "3 \xD5\xA2\xD5\xB6. 76",  // Զաքյան փողոց 3 բն. 76
        "59, Persiaran Kuching", "85, Lengkok Hang Jebat Suite 508", "Cam\xC3\xAD Ming Osinski 4",
        "Rambla Philip Doyle 7 Porta 605 Porta 908", "3719 Carrefour Les Muguets",
        "354 Descente Vergniaud", "6 Traboule Gambetta 5 \xC3\xA9tage", "2/1 Griffiths Mount",
        "A/20A Marie St", "3 Jurong West Ave 455 Apt. 406", "Plaza Leticia 196 Piso 9",
        "Calle Mayor 5 Lote 48E", "6G Barton Promenade Level 6"})
    EXPECT_THAT(Find("Ship to: " + std::string(street) + ", Town"),
                ::testing::Contains("STREET_ADDRESS:" + std::string(street)))
        << street;
  // … and as PHP's Faker writes them: Greek, Persian, Kazakh and Galician street words,
  // Spain's floors, Dutch particles before a compound, Polish -owa, Iceland's -vegur.
  for (const char* street :
       {"\xCE\x9B\xCE\xB5\xCF\x89\xCF\x86\xCF\x8C\xCF\x81\xCE\xBF\xCF\x82 "
        "\xCE\x92\xCE\xB1\xCF\x83\xCE\xB9\xCE\xBB\xCE\xAD\xCF\x89\xCF\x82, 4",  // Λεωφόρος
                                                                                // Βασιλέως, 4
        "\xD8\xAE\xDB\x8C\xD8\xA7\xD8\xA8\xD8\xA7\xD9\x86 \xD8\xB9\xD9\x86\xD8\xA7\xDB\x8C\xD8\xAA "
        "\xD9\xBE\xD9\x84\xD8\xA7\xDA\xA9 31",  // خیابان عنایت پلاک 31
        "\xD0\x9A\xD0\xB5\xD0\xBD\xD0\xB5\xD1\x81\xD0\xB0\xD1\x80\xD1\x8B "
        "\xD0\xBA\xD3\xA9\xD1\x88\xD0\xB5\xD1\x81\xD1\x96, 372",  // Кенесары көшесі, 372
        "Praza Cristian, 6, 5\xC2\xBA", "Avenida Garay, 2, 5\xC2\xBA E", "Paseo Casado, 335, Bajos",
        "van der Meersingel 6-3", "Zamkowa 31/67", "B\xC3\xA1ruvegur 9"})
    EXPECT_THAT(Find("Ship to: Ann Lee, " + std::string(street) + ", Town"),
                ::testing::Contains("STREET_ADDRESS:" + std::string(street)))
        << street;
  // India's comma after the house number, where the line has other streets' words.
  EXPECT_THAT(Find("Ship to: 5 Main St, 43, Kiran Nagar, Town"),
              ElementsAre("STREET_ADDRESS:5 Main St", "STREET_ADDRESS:43, Kiran Nagar"));
  // After a phrase that says where someone lives or where a parcel goes, the street line
  // as an address key's value is read, whatever its words; whom it goes to may stand first.
  for (const auto& [text, street] : std::vector<std::pair<std::string, std::string>>{
           {"Ship to: Gael Valentin, Vaca  48 1 5, Hidalgo del Norte", "Vaca  48 1 5"},
           {"Ship to: Jack Wulff, Severinsen Boulevard 1, st., Nexo", "Severinsen Boulevard 1"},
           {"Hi Silvester, your parcel to Druzstevna 9 is on its way.", "Druzstevna 9"},
           {"Nikola Ignac lives at Vrsovka 2.", "Vrsovka 2"},
           {"invoice 69481563: 266.15 EUR, ship to Pruskova 0", "Pruskova 0"},
           {"ship to Ingelore-Thomas-Ring 9/2, Paderborn", "Ingelore-Thomas-Ring 9/2"},
           {"address: \xD8\xAE\xDB\x8C\xD8\xA7\xD8\xA8\xD8\xA7\xD9\x86 "
            "\xD8\xA7\xD9\x86\xD9\x88\xD8\xB4\xD9\x87",  // خیابان انوشه: a street, no number
            "\xD8\xAE\xDB\x8C\xD8\xA7\xD8\xA8\xD8\xA7\xD9\x86 "
            "\xD8\xA7\xD9\x86\xD9\x88\xD8\xB4\xD9\x87"},
           {"Anselmo Orlando lives at Trafficway Ferrari 989, Appartamento 59.",
            "Trafficway Ferrari 989, Appartamento 59"}})
    EXPECT_THAT(Find(text), ::testing::Contains("STREET_ADDRESS:" + street)) << text;
  for (const char* text :
       {"the config lives at /etc/veil/veil.yaml 2", "it lives at line 42 of main.cc",
        "ship to production in 2 weeks", "billed to account 7 times", "lives at version 2"})
    EXPECT_THAT(Find(text),
                ::testing::Not(::testing::Contains(::testing::StartsWith("STREET_ADDRESS"))))
        << text;
  // In a contact's CSV line, the cell right after the e-mail address or the phone that reads
  // whole as a street line; not a cell elsewhere in the line.
  for (const auto& [text, street] : std::vector<std::pair<std::string, std::string>>{
           {"Michaela Svacinova,ludvik39@seznam.cz,+420 409 169 549,Sovova 8,Pardubice",
            "Sovova 8"},
           {"Ivo Vollmer;roger99@freenet.de;04444 44572;Starkring 9;Saarlouis", "Starkring 9"},
           {"Marinus Frederiksen,elvira.frandsen@torp.com,Moellerskov 9", "Moellerskov 9"}})
    EXPECT_THAT(Find(text), ::testing::Contains("STREET_ADDRESS:" + street)) << text;
  for (const char* text : {"Jane Doe,jane@example.org,Sales,Premium Plan 2,Renewed",
                           "Sovova 8,Michaela Svacinova,ludvik39@seznam.cz,Pardubice",
                           "Jane Doe,jane@example.org,tier 2,Gold"})
    EXPECT_THAT(Find(text),
                ::testing::Not(::testing::Contains(::testing::StartsWith("STREET_ADDRESS"))))
        << text;
  EXPECT_THAT(Find("Copyright (C) 1997, Thomas G. Lane."),
              ::testing::Not(::testing::Contains(::testing::StartsWith("STREET_ADDRESS"))));
  // Not streets: a count after a lower-case word, a year after a place, a version.
  for (const char* text :
       {"tee 5 times", "medan 3 hari", "Colonia 2024 release notes", "see Persiaran 3 times",
        "I rang Bob 3 times", "We traverse Europe 3 times"})
    EXPECT_THAT(Find(text), IsEmpty()) << text;
}

TEST_F(DetectorTest, DateOfBirthNeedsContext) {
  EXPECT_THAT(Find("DOB: 1984-03-07"), ElementsAre("DATE_OF_BIRTH:1984-03-07"));
  EXPECT_THAT(Find("dob=1979-03-14T00:00:00Z"), ElementsAre("DATE_OF_BIRTH:1979-03-14T00:00:00Z"));
  EXPECT_THAT(Find("Date of birth: 14th of March, 1979"),
              ElementsAre("DATE_OF_BIRTH:14th of March, 1979"));
  EXPECT_THAT(Find("created=1979-03-14T00:00:00Z"), IsEmpty());
  EXPECT_THAT(Find("born March 7, 1984 in Ohio"), ElementsAre("DATE_OF_BIRTH:March 7, 1984"));
  EXPECT_THAT(Find("created 2024-03-07"), IsEmpty());
  // Labelled in other languages, written their way; a two-digit year after the label.
  const std::pair<const char*, const char*> other[] = {
      {"Geburtsdatum: 07.03.1984", "07.03.1984"},
      {"Geburtsdatum: 7. M\xC3\xA4rz 1984", "7. M\xC3\xA4rz 1984"},
      {"fecha de nacimiento: 7 de marzo de 1984", "7 de marzo de 1984"},
      {"n\xC3\xA9 le 07/03/1984", "07/03/1984"},
      {"data di nascita: 07/03/1984", "07/03/1984"},
      {"geboortedatum 07-03-1984", "07-03-1984"},
      {"f\xC3\xB6"
       "delsedatum 1984-03-07",
       "1984-03-07"},
      {"DOB: 03/07/84", "03/07/84"},
      {"d.o.b. 03/07/1984", "03/07/1984"},
      {"DOB 1984-03-07. Next", "1984-03-07"},
      // A month's name in lower case or in another language marks nothing by itself.
      {"born 4 july 1976", "4 july 1976"},
      {"n\xC3\xA9 le 4 juillet 1976", "4 juillet 1976"},
      {"nata il 4 luglio 1976", "4 luglio 1976"},
      {"nascido em 4 de julho de 1976", "4 de julho de 1976"},
      {"born on the 4th of july, 1976", "4th of july, 1976"},
      {"\xD0\xB4\xD0\xB0\xD1\x82\xD0\xB0 "
       "\xD1\x80\xD0\xBE\xD0\xB6\xD0\xB4\xD0\xB5\xD0\xBD\xD0\xB8\xD1\x8F 12.04.1987",
       "12.04.1987"},
      // Other languages' month names and labels, and the year's word after the date.
      {"data urodzenia: 12 marca 1985", "12 marca 1985"},
      {"дата рождения: 12 марта 1985 г.", "12 марта 1985 г."},
      {"doğum tarihi: 12 Mart 1985", "12 Mart 1985"},
      {"született: 1985. március 12.", "1985. március 12"},
      {"ngày sinh: 12/03/1985", "12/03/1985"},
      {"tanggal lahir: 12 Maret 1985", "12 Maret 1985"},
      {"data nașterii: 12 martie 1985", "12 martie 1985"},
      {"datum rođenja: 12. ožujka 1985.", "12. ožujka 1985"},
      {"født 12. marts 1985", "12. marts 1985"},
      {"γεννήθηκε 12 Μαρτίου 1985", "12 Μαρτίου 1985"},
      {"DOB: 25 กันยายน 2518", "25 กันยายน 2518"},  // the Buddhist era, a day of 24-26
      {"DOB: 18 ม.ค. 2503", "18 ม.ค. 2503"},
      {"DOB: 4. 7. 1999", "4. 7. 1999"}};
  for (const auto& [text, date] : other)
    EXPECT_THAT(Find(text), ElementsAre(std::string("DATE_OF_BIRTH:") + date)) << text;
  EXPECT_THAT(Find("the meeting on 03/07/84 was moved; order 12/03/24 shipped"), IsEmpty());
  EXPECT_THAT(Find("released in july 1976, reissued 4 de julio de 1996"), IsEmpty());
}

TEST_F(DetectorTest, SegmentsDoNotLeak) {
  Scanner s(*detector_);
  std::string row = "phone\n6502530000";
  Segment segs[] = {{0, 5, nullptr}, {6, 16, nullptr}};
  std::vector<EntityMatch> out;
  s.Scan(row, segs, &out);
  EXPECT_TRUE(out.empty());  // "phone" in the previous cell is not context for this one
}

// A key that names a person, a phone or a street makes its value one, in the records people
// keep as text: a single given name or surname has no other context.
TEST_F(DetectorTest, StructuredRecordFields) {
  EXPECT_THAT(Find(R"({"firstName":"Ann","lastName":"Okafor","age":41})"),
              ElementsAre("PERSON_NAME:Ann", "PERSON_NAME:Okafor"));
  EXPECT_THAT(Find(R"({"name":[{"family":"van der Meij","given":["Luke","Adam"]}]})"),
              ElementsAre("PERSON_NAME:van der Meij", "PERSON_NAME:Luke", "PERSON_NAME:Adam"));
  EXPECT_THAT(Find("<Customer><FirstName>Ann</FirstName><Surname>Lee</Surname></Customer>"),
              ElementsAre("PERSON_NAME:Ann", "PERSON_NAME:Lee"));
  EXPECT_THAT(Find("first_name=Mary+Ann&last_name=Ng&phone=(784)+242-1115&x=1"),
              ElementsAre("PERSON_NAME:Mary+Ann", "PERSON_NAME:Ng", "PHONE:(784)+242-1115"));
  EXPECT_THAT(Find("customer:\n  last_name: O'Brien\n  street: 21 Allée, Voie Saint-Bernard\n"),
              ElementsAre("PERSON_NAME:O'Brien", "STREET_ADDRESS:21 Allée, Voie Saint-Bernard"));
  EXPECT_THAT(Find("dn: cn=Ann Lee,ou=people,dc=example,dc=com\nsn: Lee\ngivenName: Ann"),
              ElementsAre("PERSON_NAME:Ann Lee", "PERSON_NAME:Lee", "PERSON_NAME:Ann"));
  EXPECT_THAT(Find(R"({"customer_name":"Wu","billing_last_name":"Diaz","product_name":"Widget"})"),
              ElementsAre("PERSON_NAME:Wu", "PERSON_NAME:Diaz"));
  // The same keys as languages and tools write them.
  EXPECT_THAT(Find("UPDATE users SET first_name = 'Lino', last_name = 'D'angelo' WHERE id = 42"),
              ElementsAre("PERSON_NAME:Lino", "PERSON_NAME:D'angelo"));
  EXPECT_THAT(Find(R"({ "first_name" : "Ann" , "surname" : "Lee" })"),
              ElementsAre("PERSON_NAME:Ann", "PERSON_NAME:Lee"));
  EXPECT_THAT(Find(R"(<input name="first_name" value="Ann"><input name="x" value="Lee">)"),
              ElementsAre("PERSON_NAME:Ann"));
  EXPECT_THAT(Find(R"(a:2:{s:10:"first_name";s:3:"Ann";s:9:"last_name";s:3:"Lee";})"),
              ElementsAre("PERSON_NAME:Ann", "PERSON_NAME:Lee"));
  EXPECT_THAT(Find("user[first_name]=Ann&user[last_name]=van der Sluis&plan=pro"),
              ElementsAre("PERSON_NAME:Ann", "PERSON_NAME:van der Sluis"));
  EXPECT_THAT(Find(R"(:first_name => "Ann", 'last_name' => 'Lee')"),
              ElementsAre("PERSON_NAME:Ann", "PERSON_NAME:Lee"));
  EXPECT_THAT(Find("<ns2:FirstName>Ann</ns2:FirstName> first_name=Ann logged in at 10:02"),
              ElementsAre("PERSON_NAME:Ann", "PERSON_NAME:Ann"));
  EXPECT_THAT(Find("<Dbtr><Nm>Ann Lee</Nm><PstlAdr><StrtNm>Rue de Rivoli</StrtNm></PstlAdr>"),
              ElementsAre("PERSON_NAME:Ann Lee", "STREET_ADDRESS:Rue de Rivoli"));
  // "name" in a person's record (under a people key, or beside contact data as a key), and
  // the keys of people's roles, with a name's shape.
  EXPECT_THAT(Find(R"({"id":7,"name":"Okafor","phoneNumber":"555-0100"})"),
              ElementsAre("PERSON_NAME:Okafor", "PHONE:555-0100"));
  EXPECT_THAT(Find(R"({"attendees": [{"name": "Aiko"}, {"id": 2, "name": "Ben"}]})"),
              ElementsAre("PERSON_NAME:Aiko", "PERSON_NAME:Ben"));
  EXPECT_THAT(Find(R"({"products": [{"name": "Widget"}, {"name": "Gadget"}]})"), IsEmpty());
  EXPECT_THAT(Find(R"({"patient":{"name":"Aiko"}} owner: Ms. Chen; recipient=Tobias)"),
              ElementsAre("PERSON_NAME:Aiko", "PERSON_NAME:Chen", "PERSON_NAME:Tobias"));
  EXPECT_THAT(Find(R"({"name":"Widget","label":"BaseAddress"} {"owner":"Finance Team"})"),
              IsEmpty());
  EXPECT_THAT(Find(R"({"user":"Admin","client_secret":"xxxx Thanks.","client":"Firefox"})"),
              IsEmpty());
  // Keys that are also ordinary words need a capitalised value; placeholders are not names.
  EXPECT_THAT(Find(R"({"first": true, "last": "2024-01-01", "surname": null, "given": "x"})"),
              IsEmpty());
  EXPECT_THAT(Find("subject: CN=www.example.com, O=Example"), IsEmpty());
  // FHIR's XML puts every value in a value attribute.
  EXPECT_THAT(Find("<name><use value=\"official\"/><family value=\"Chalmers\"/>"
                   "<given value=\"Peter\"/></name>"),
              ElementsAre("PERSON_NAME:Chalmers", "PERSON_NAME:Peter"));
  // FHIR's keys only in JSON or as value attributes: fontconfig's <family> is a font's.
  EXPECT_THAT(Find("<alias><family>Times New Roman</family><given>x</given></alias>"), IsEmpty());
  // vCard: the name's parts and the address's street.
  EXPECT_THAT(Find("BEGIN:VCARD\nN:Doe;Ann;;;\nFN:Ann Doe\n"
                   "ADR;TYPE=home:;;12 Oak St;Springfield;IL;62701;USA\nEND:VCARD"),
              ElementsAre("PERSON_NAME:Doe", "PERSON_NAME:Ann", "PERSON_NAME:Ann Doe",
                          "STREET_ADDRESS:12 Oak St"));
  // Mail headers' display names, SQL's doubled quotes, an iCalendar CN before its ':'.
  EXPECT_THAT(Find("From: \"de Groot, Mattie\" <m@example.org>"),
              ElementsAre("PERSON_NAME:de Groot, Mattie", "EMAIL:m@example.org"));
  EXPECT_THAT(Find("last_name = 'O''Reilly'"), ElementsAre("PERSON_NAME:O''Reilly"));
  EXPECT_THAT(Find("ATTENDEE;CN=Natal Marinho:mailto:nm@example.org"),
              ElementsAre("PERSON_NAME:Natal Marinho", "EMAIL:nm@example.org"));
  // A git log's date line is no name.
  EXPECT_THAT(Find("Author: Ann Doe <ann@example.com>\nDate:   Tue Mar 5 10:11:12 2024 +0100"),
              ElementsAre("PERSON_NAME:Ann Doe", "EMAIL:ann@example.com"));
}

// Whether findings cover every byte of each value in text (their first occurrence).
::testing::AssertionResult AllCovered(const std::shared_ptr<const Detector>& d,
                                      std::string_view text,
                                      std::initializer_list<std::string_view> values) {
  Scanner s(d);
  std::vector<EntityMatch> out;
  s.Scan(text, &out);
  for (std::string_view v : values) {
    const size_t at = text.find(v);
    if (at == std::string_view::npos) return ::testing::AssertionFailure() << "no " << v;
    for (size_t i = at; i < at + v.size(); ++i)
      if (std::none_of(out.begin(), out.end(),
                       [&](const EntityMatch& m) { return m.start <= i && i < m.end; }))
        return ::testing::AssertionFailure() << v << " left raw at byte " << i - at;
  }
  return ::testing::AssertionSuccess();
}

// The standards' own examples, not written here: HL7 v2.5's ADT^A01 sample message and FHIR
// R4's patient-example.json (abridged).
TEST_F(DetectorTest, StandardsOwnExamples) {
  EXPECT_TRUE(AllCovered(
      *detector_,
      "MSH|^~\\&|MegaReg|XYZHospC|SuperOE|XYZImgCtr|20060529090131-0500||ADT^A01^ADT_A01|"
      "01052901|P|2.5\rEVN||200605290901||||\rPID|||56782445^^^UAReg^PI||KLEINSAMPLE^BARRY^Q^JR"
      "||19620910|M||2028-9^^HL70005^RA99113^^XYZ|260 GOODWIN CREST DRIVE^^BIRMINGHAM^AL^35209^^M"
      "~NICKELL'S PICKLES^10000 W 100TH AVE^BIRMINGHAM^AL^35200^^O|||||||0105I30001^^^99DEF^AN\r"
      "PV1||I|W^389^1^UABH^^^^3||||12345^MORGAN^REX^J^^^MD^0010^UAMC^L||67890^GRAINGER^LUCY^X^^^"
      "MD^0010^UAMC^L|MED|||||A0||13579^POTTER^SHERMAN^T^^^MD^0010^UAMC^L|||||||||||||||||||||||||"
      "||200605290900\r",
      {"KLEINSAMPLE", "BARRY", "19620910", "260 GOODWIN CREST DRIVE", "10000 W 100TH AVE", "MORGAN",
       "REX", "GRAINGER", "LUCY", "POTTER", "SHERMAN"}));
  EXPECT_TRUE(AllCovered(
      *detector_,
      R"({"resourceType":"Patient","id":"example","name":[{"use":"official","family":"Chalmers",)"
      R"("given":["Peter","James"]},{"use":"usual","given":["Jim"]},{"use":"maiden","family":)"
      R"("Windsor","given":["Peter","James"],"period":{"end":"2002"}}],"telecom":[{"use":"home"},)"
      R"({"system":"phone","value":"(03) 5555 6473","use":"work","rank":1}],"gender":"male",)"
      R"("birthDate":"1974-12-25","address":[{"use":"home","type":"both","text":"534 Erewhon St )"
      R"(PeasantVille, Rainbow, Vic  3999","line":["534 Erewhon St"],"city":"PleasantVille"}],)"
      R"("contact":[{"name":{"family":"du Marché","given":["Bénédicte"]},"telecom":[{"system":)"
      R"("phone","value":"+33 (237) 998327"}]}]})",
      {"Chalmers", "Peter", "James", "Jim", "Windsor", "(03) 5555 6473", "1974-12-25",
       "534 Erewhon St", "du Marché", "Bénédicte", "+33 (237) 998327"}));
}

// HL7 v2 and X12 healthcare segments: names in capitals, split by '^' or '*', birth dates
// as YYYYMMDD, with no words around them.
TEST_F(DetectorTest, HealthcareSegments) {
  EXPECT_THAT(
      Find("MSH|^~\\&|EPIC|HOSP|LAB|HOSP|20240305101112||ADT^A01|MSG1|P|2.5\r"
           "PID|1||483920^^^MRN^MR||OKAFOR^CHIDI^A||19800101|M|||55 OTIGE GLN^^LYON^MI^40468||"
           "(784) 242-1115|||S||90012|536221234|\r"
           "PV1|1|I|W^389^1||||004777^LEBAUER^ANDRE^J.^^^DR|"),
      ElementsAre("PERSON_NAME:OKAFOR", "PERSON_NAME:CHIDI", "PERSON_NAME:A",
                  "DATE_OF_BIRTH:19800101", "STREET_ADDRESS:55 OTIGE GLN", "PHONE:(784) 242-1115",
                  "US_SSN:536221234", "PERSON_NAME:LEBAUER", "PERSON_NAME:ANDRE",
                  "PERSON_NAME:J."));
  EXPECT_THAT(Find("NM1*85*2*GOOD HEALTH CLINIC*****XX*1234567893~"
                   "NM1*IL*1*DOE*JOHN*A***MI*W123456789~N3*123 MAIN ST~N4*ANYTOWN*CA*90210~"
                   "DMG*D8*19800101*M~"),
              ElementsAre("PERSON_NAME:DOE", "PERSON_NAME:JOHN", "PERSON_NAME:A",
                          "STREET_ADDRESS:123 MAIN ST", "DATE_OF_BIRTH:19800101"));
}

}  // namespace
}  // namespace veil::masker
