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

TEST_F(ColumnStoreTest, AnUnwritableFileIsAnErrorNamingIt) {
  auto store = ColumnStore::Open(dir_ + "/missing/columns.db");
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.error().message, HasSubstr(dir_ + "/missing/columns.db"));
}

}  // namespace
}  // namespace veil::agent
