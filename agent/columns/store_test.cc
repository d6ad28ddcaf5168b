#include "agent/columns/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace veil::agent {
namespace {

using ::testing::HasSubstr;
using Masked = std::pair<std::string_view, uint64_t>;

class ColumnStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/veil-columns-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/columns.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, path_;
};

const ColumnKey kNotes{"shop-db", "shop", "public", "customers", "notes"};

TEST_F(ColumnStoreTest, ContentNeedsEnoughMaskedValuesAndShare) {
  auto store = ColumnStore::InMemory();
  auto* e = store->Track(kNotes);
  Masked two[] = {{"EMAIL", 2}};
  store->Observe(e, 10, two);
  EXPECT_FALSE(store->Learned(e)) << "two masked values are not yet a pattern";
  Masked one[] = {{"EMAIL", 1}};
  store->Observe(e, 10, one);
  auto c = store->Learned(e);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->entity, "EMAIL");
  EXPECT_EQ(c->source, ColumnSource::kContent);
  EXPECT_DOUBLE_EQ(c->confidence, 3.0 / 20.0);
  EXPECT_EQ(c->observed, 20u);
  EXPECT_EQ(c->masked, 3u);
}

TEST_F(ColumnStoreTest, RareFindingsInAHugeColumnAreNotAClassification) {
  auto store = ColumnStore::InMemory();
  auto* e = store->Track(kNotes);
  Masked few[] = {{"PHONE", 5}};
  store->Observe(e, 100000, few);  // 0.005 %: noise, not a phone column
  EXPECT_FALSE(store->Learned(e));
}

TEST_F(ColumnStoreTest, TheMostFrequentEntityWins) {
  auto store = ColumnStore::InMemory();
  auto* e = store->Track(kNotes);
  Masked mixed[] = {{"EMAIL", 4}, {"CREDIT_CARD", 9}};
  store->Observe(e, 20, mixed);
  ASSERT_TRUE(store->Learned(e));
  EXPECT_EQ(store->Learned(e)->entity, "CREDIT_CARD");
}

TEST_F(ColumnStoreTest, LineageMarksAColumnAtOnce) {
  auto store = ColumnStore::InMemory();
  auto* e = store->Track({"shop-db", "shop", "public", "scratch", "x"});
  store->MarkLineage(e, "US_SSN");
  auto c = store->Learned(e);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->source, ColumnSource::kLineage);
  EXPECT_EQ(c->entity, "US_SSN");
}

TEST_F(ColumnStoreTest, KeysAreDistinctPerEndpointAndDatabase) {
  auto store = ColumnStore::InMemory();
  auto* a = store->Track(kNotes);
  ColumnKey other = kNotes;
  other.database = "staging";
  auto* b = store->Track(other);
  EXPECT_NE(a, b);
  EXPECT_EQ(store->Track(kNotes), a);
  store->MarkLineage(a, "EMAIL");
  EXPECT_FALSE(store->Learned(b));
  EXPECT_EQ(store->List("shop-db").size(), 2u);
  EXPECT_TRUE(store->List("other-db").empty());
}

TEST_F(ColumnStoreTest, FlushedStateSurvivesARestartAndTheFileIsPrivate) {
  {
    auto store = ColumnStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto* e = (*store)->Track(kNotes);
    Masked m[] = {{"EMAIL", 7}};
    (*store)->Observe(e, 50, m);
    (*store)->MarkLineage((*store)->Track({"shop-db", "shop", "public", "copy", "c"}), "PHONE");
    ASSERT_TRUE((*store)->Flush().ok());
    // Counted after the flush: written by the destructor's last flush (a clean stop).
    (*store)->Observe(e, 50, {});
  }
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto store = ColumnStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto c = (*store)->Learned((*store)->Track(kNotes));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->entity, "EMAIL");
  EXPECT_EQ(c->observed, 100u);
  auto l = (*store)->Learned((*store)->Track({"shop-db", "shop", "public", "copy", "c"}));
  ASSERT_TRUE(l);
  EXPECT_EQ(l->source, ColumnSource::kLineage);
}

TEST_F(ColumnStoreTest, TheFlusherWritesWithoutBeingAsked) {
  auto store = ColumnStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.error().message;
  (*store)->StartFlusher(std::chrono::milliseconds(20));
  (*store)->MarkLineage((*store)->Track(kNotes), "EMAIL");
  // Another connection sees the row once the flusher ran (polled: no timed assert).
  bool seen = false;
  for (int i = 0; i < 500 && !seen; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto other = ColumnStore::Open(path_);
    ASSERT_TRUE(other.ok());
    seen = (*other)->Learned((*other)->Track(kNotes)).has_value();
  }
  EXPECT_TRUE(seen);
}

ColumnKey Named(std::string_view column) {
  return {"shop-db", "shop", "public", "customers", std::string(column)};
}

// A migration run straight against the database swaps two columns' names: what was learned of
// each follows its values, and the name that held the sensitive values stays sensitive.
TEST_F(ColumnStoreTest, WhatWasLearnedFollowsTheColumnThroughARename) {
  auto store = ColumnStore::InMemory();
  const ColumnId kRef{16400, 3}, kNote{16400, 4};
  Masked emails[] = {{"EMAIL", 20}};
  store->Observe(store->Track(Named("legacy_ref"), kRef), 60, emails);
  auto* note = store->Track(Named("note"), kNote);
  store->Observe(note, 200, {});
  store->MarkSampled(note);
  ASSERT_FALSE(store->Learned(note));

  // Renamed: note holds the addresses now, legacy_ref the harmless text.
  auto* now_note = store->Track(Named("note"), kRef);
  EXPECT_EQ(now_note, note);
  auto c = store->Learned(now_note);
  ASSERT_TRUE(c) << "the addresses' column is sensitive under its new name";
  EXPECT_EQ(c->entity, "EMAIL");
  EXPECT_EQ(store->ContentOf(now_note).observed, 60u);
  auto* now_ref = store->Track(Named("legacy_ref"), kNote);
  EXPECT_TRUE(store->Learned(now_ref)) << "a name once sensitive stays so";
  EXPECT_TRUE(store->ContentOf(now_ref).sampled) << "its values are the sampled ones";
  // Tracked again as they are: nothing moves.
  EXPECT_TRUE(store->Learned(store->Track(Named("note"), kRef)));
}

TEST_F(ColumnStoreTest, WrittenSensitivityFollowsARenameToANewName) {
  auto store = ColumnStore::InMemory();
  const ColumnId kHash{16500, 2};
  store->MarkLineage(store->Track(Named("ssn_digest"), kHash), "US_SSN");
  auto c = store->Learned(store->Track(Named("ref"), kHash));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->source, ColumnSource::kLineage);
  EXPECT_EQ(c->entity, "US_SSN");
}

// A table dropped and made again under its name: what said its values were harmless was about
// other values, so it is sampled again; what said they were sensitive stays.
TEST_F(ColumnStoreTest, ANameOnANewColumnLosesItsEvidenceOfBeingHarmless) {
  auto store = ColumnStore::InMemory();
  auto* e = store->Track(Named("memo"), {16600, 2});
  Masked one[] = {{"EMAIL", 1}};
  store->Observe(e, 500, one);
  store->MarkSampled(e);
  EXPECT_EQ(store->Track(Named("memo"), {16700, 2}), e);
  const auto content = store->ContentOf(e);
  EXPECT_EQ(content.observed, 0u);
  EXPECT_EQ(content.masked, 0u);
  EXPECT_FALSE(content.sampled);

  auto* s = store->Track(Named("ssn"), {16600, 3});
  store->MarkLineage(s, "US_SSN");
  store->Track(Named("ssn"), {16700, 3});
  EXPECT_TRUE(store->Learned(s));
}

// A name tracked before its identity was known (a store from an older veild, a table a
// statement created) keeps what it learned when its identity is first seen.
TEST_F(ColumnStoreTest, AnIdentitySeenFirstAdoptsTheName) {
  auto store = ColumnStore::InMemory();
  auto* e = store->Track(Named("memo"));
  Masked m[] = {{"PHONE", 9}};
  store->Observe(e, 30, m);
  store->Track(Named("memo"), {16800, 5});
  ASSERT_TRUE(store->Learned(e));
  EXPECT_EQ(store->ContentOf(e).observed, 30u);
}

TEST_F(ColumnStoreTest, IdentitiesSurviveARestartAndAnOlderStoreIsMigrated) {
  {
    // The table as veild wrote it before columns had identities.
    auto db = sqlite::Open(path_, 0600);
    ASSERT_TRUE(db.ok()) << db.error().message;
    ASSERT_TRUE(sqlite::Exec(db->get(),
                             "CREATE TABLE columns (endpoint TEXT NOT NULL, database TEXT NOT "
                             "NULL, schema_name TEXT NOT NULL, table_name TEXT NOT NULL, "
                             "column_name TEXT NOT NULL, observed INTEGER NOT NULL, "
                             "lineage_entity TEXT NOT NULL, PRIMARY KEY (endpoint, database, "
                             "schema_name, table_name, column_name));"
                             "INSERT INTO columns VALUES ('shop-db', 'shop', 'public', "
                             "'customers', 'ssn_digest', 0, 'US_SSN');")
                    .ok());
  }
  const ColumnId kHash{16500, 2}, kMemo{16500, 3};
  {
    auto store = ColumnStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto* d = (*store)->Track(Named("ssn_digest"), kHash);
    ASSERT_TRUE((*store)->Learned(d));
    auto* memo = (*store)->Track(Named("memo"), kMemo);
    Masked one[] = {{"EMAIL", 1}};
    (*store)->Observe(memo, 10, one);
    (*store)->Track(Named("memo"), {16900, 3});  // made again: its count goes
    ASSERT_TRUE((*store)->Flush().ok());
  }
  auto store = ColumnStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto c = (*store)->Learned((*store)->Track(Named("ref"), kHash));
  ASSERT_TRUE(c) << "the identity was written and read back";
  EXPECT_EQ(c->entity, "US_SSN");
  EXPECT_EQ((*store)->ContentOf((*store)->Track(Named("memo"), {16900, 3})).masked, 0u);
}

TEST_F(ColumnStoreTest, TheNameARuleGaveAColumnFollowsItAndSurvivesARestart) {
  const ColumnId kCode{17000, 2};
  const ColumnKey code{"shop-db", "shop", "public", "accounts", "code"};
  const ColumnKey ref{"shop-db", "shop", "public", "ledger", "ref"};
  {
    auto store = ColumnStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.error().message;
    (*store)->NoteRule((*store)->Track(code, kCode), code);
    auto rule = (*store)->RuleOf((*store)->Track(ref, kCode));
    ASSERT_TRUE(rule);
    EXPECT_EQ(*rule, code);
    EXPECT_FALSE((*store)->RuleOf((*store)->Track(Named("other"), {17000, 3})));
    ASSERT_TRUE((*store)->Flush().ok());
  }
  auto store = ColumnStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.error().message;
  auto rule = (*store)->RuleOf((*store)->Track(ref));
  ASSERT_TRUE(rule);
  EXPECT_EQ(*rule, code);
}

TEST_F(ColumnStoreTest, ContentForTracksNothingAndATableIsSampledOnce) {
  auto store = ColumnStore::InMemory();
  EXPECT_EQ(store->ContentFor(Named("memo")).observed, 0u);
  EXPECT_TRUE(store->List("shop-db").empty()) << "a lookup is no column";
  Masked one[] = {{"EMAIL", 1}};
  store->Observe(store->Track(Named("memo")), 200, one);
  EXPECT_EQ(store->ContentFor(Named("memo")).masked, 1u);
  EXPECT_FALSE(store->TableSampled(Named("memo")));
  store->MarkTableSampled(Named("memo"));
  EXPECT_TRUE(store->TableSampled(Named("other"))) << "the same table, whatever column";
  EXPECT_FALSE(store->TableSampled({"shop-db", "shop", "public", "orders", ""}));
}

TEST_F(ColumnStoreTest, AnUnwritableFileIsAnErrorNamingIt) {
  auto store = ColumnStore::Open(dir_ + "/missing/columns.db");
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.error().message, HasSubstr(dir_ + "/missing/columns.db"));
}

}  // namespace
}  // namespace veil::agent
