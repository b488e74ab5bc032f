// weftctl's output: kubectl-style tables, ages and YAML/JSON printing.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace weft::ctl {

// Columns aligned the way kubectl's printer aligns them (Go's tabwriter with minwidth 10 and
// padding 3): each column but the last is as wide as its widest cell plus 3, at least 10.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) { rows_.push_back(std::move(headers)); }
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t rows() const { return rows_.size() - 1; }  // without the header
  std::string Render() const;
  void Print() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// kubectl's AGE: Kubernetes' duration.HumanDuration ("45s", "3m12s", "15m", "5h3m", "2d4h").
std::string HumanDuration(int64_t seconds);
// The AGE of an RFC 3339 creationTimestamp ("<unknown>" when it does not parse).
std::string Age(const std::string& timestamp);

// kubectl's rendering of a value in a table cell: strings as they are, arrays and objects as
// JSON (["reviews"]), absent as <none>.
std::string Cell(const nlohmann::json& value);

std::string ToYaml(const nlohmann::json& value);
void PrintYaml(const nlohmann::json& value);
void PrintJson(const nlohmann::json& value);

}  // namespace weft::ctl
