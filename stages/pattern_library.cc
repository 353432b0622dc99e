#include "stages/pattern_library.h"

namespace logpipe {
namespace {

// Pieces shared by several patterns. Only constructs RE2 supports, matched on bytes; runs of
// "anything but the next delimiter" ([^ ]+, [^"]*) rather than .*? so RE2 never has to
// choose between two ways on at the same byte (one-pass patterns stay fast, see BASELINES.md).
#define LOGPIPE_ACCESS_PREFIX                                                \
  R"re((?P<ip>[^ ]+) (?P<ident>[^ ]+) (?P<user>[^ ]+) \[(?P<ts>[^]]+)\] )re" \
  R"re("(?P<method>[A-Z]+) (?P<path>[^ "]+) (?P<protocol>HTTP/[0-9.]+)" )re" \
  R"re((?P<status>[0-9][0-9][0-9]) (?P<bytes>[0-9]+|-))re"
#define LOGPIPE_REFERER_AGENT R"re( "(?P<referer>[^"]*)" "(?P<agent>[^"]*)")re"
// RFC 3164 "Mar 27 13:06:56" (day space-padded; an unpadded day is accepted too).
#define LOGPIPE_SYSLOG_TS \
  R"re((?P<ts>[A-Z][a-z][a-z] [ 0-9]?[0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]))re"

constexpr char kAccessTime[] = "%d/%b/%Y:%H:%M:%S %z";

FieldSpec Typed(const char* name, FieldType type, const char* time_format = "") {
  return FieldSpec{name, type, time_format};
}

std::vector<BuiltinPattern> MakePatterns() {
  std::vector<BuiltinPattern> p;
  p.push_back(BuiltinPattern{
      "combined",
      "Apache/nginx combined access log, optionally followed by an nginx request time in "
      "seconds; the request must be METHOD PATH HTTP/x (malformed requests do not match)",
      LOGPIPE_ACCESS_PREFIX LOGPIPE_REFERER_AGENT R"re((?: (?P<request_time>[0-9.]+))?)re",
      {Typed("ts", FieldType::kTime, kAccessTime), Typed("status", FieldType::kInt),
       Typed("bytes", FieldType::kInt), Typed("request_time", FieldType::kFloat)},
      R"(83.149.9.216 - - [17/May/2015:10:05:03 +0000] )"
      R"("GET /presentations/logstash-monitorama-2013/images/kibana-search.png HTTP/1.1" )"
      R"(200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" )"
      R"("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 )"
      R"((KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36")",
  });
  p.push_back(BuiltinPattern{
      "common",
      "Common Log Format (CLF, Apache 'common'): combined without referer and user agent",
      LOGPIPE_ACCESS_PREFIX,
      {Typed("ts", FieldType::kTime, kAccessTime), Typed("status", FieldType::kInt),
       Typed("bytes", FieldType::kInt)},
      // The example of the Apache HTTP Server documentation (mod_log_config, Common Log Format).
      R"(127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326)",
  });
  p.push_back(BuiltinPattern{
      "combined_xff",
      "combined followed by a quoted X-Forwarded-For header (nginx's stock 'main' log_format)",
      LOGPIPE_ACCESS_PREFIX LOGPIPE_REFERER_AGENT R"re( "(?P<forwarded_for>[^"]*)")re",
      {Typed("ts", FieldType::kTime, kAccessTime), Typed("status", FieldType::kInt),
       Typed("bytes", FieldType::kInt)},
      R"(31.56.96.51 - - [22/Jan/2019:03:56:16 +0330] )"
      R"("GET /image/60844/productModel/200x200 HTTP/1.1" 200 5667 )"
      R"("https://www.zanbil.ir/m/filter/b113" "Mozilla/5.0 (Linux; Android 6.0; ALE-L21 )"
      R"(Build/HuaweiALE-L21) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/66.0.3359.158 )"
      R"(Mobile Safari/537.36" "-")",
  });
  p.push_back(BuiltinPattern{
      "syslog",
      "BSD syslog (RFC 3164) as written to /var/log: 'Mon dd hh:mm:ss host program[pid]: "
      "message'; ts stays a string because the line has no year",
      LOGPIPE_SYSLOG_TS
      R"re( (?P<host>[^ ]+) (?P<program>[^ :\[]+)(?:\[(?P<pid>[0-9]+)\])?:(?: (?P<message>.*))?)re",
      {Typed("pid", FieldType::kInt)},
      "Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: Server listening on 0.0.0.0 port 22.",
  });
  p.push_back(BuiltinPattern{
      "syslog5424",
      "syslog (RFC 5424): '<pri>1 timestamp host app procid msgid structured-data message'; "
      "'-' (nil) fields are absent",
      R"re(<(?P<pri>[0-9][0-9]?[0-9]?)>(?P<version>[0-9][0-9]?) (?P<ts>[^ ]+) (?P<host>[^ ]+) )re"
      R"re((?P<app>[^ ]+) (?P<procid>[^ ]+) (?P<msgid>[^ ]+) )re"
      R"re((?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?P<message>.*))?)re",
      {Typed("pri", FieldType::kInt), Typed("version", FieldType::kInt),
       Typed("ts", FieldType::kTime, "iso8601")},
      // RFC 5424 section 6.5, example 3.
      R"(<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 )"
      R"([exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] )"
      R"(An application event log entry...)",
  });
  p.push_back(BuiltinPattern{
      "sshd",
      "OpenSSH authentication events in auth.log (syslog): Accepted/Failed METHOD for [invalid "
      "user] USER from IP port N, and Invalid user USER from IP; other sshd lines do not "
      "match. ts stays a string (no year)",
      LOGPIPE_SYSLOG_TS
      R"re( (?P<host>[^ ]+) sshd\[(?P<pid>[0-9]+)\]: (?P<event>Accepted|Failed|Invalid user) )re"
      R"re((?:(?P<method>[^ ]+) for (?:invalid user )?)?(?P<user>[^ ]*) from (?P<ip>[^ ]+))re"
      R"re((?: port (?P<port>[0-9]+))?(?: ssh2(?:: [^ ]+ [^ ]+)?)?(?: \[preauth\])?)re",
      {Typed("pid", FieldType::kInt), Typed("port", FieldType::kInt)},
      "Mar 29 11:35:20 ip-10-77-20-248 sshd[1361]: Accepted password for elastic_user_2 from "
      "85.245.107.41 port 50690 ssh2",
  });
  p.push_back(BuiltinPattern{
      "kafka",
      "Apache Kafka server/controller log (log4j '[%d] %p %m (%c)'); the time has no zone "
      "and is read as UTC; stack-trace continuation lines do not match",
      R"re(\[(?P<ts>[0-9]{4}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9],[0-9]{3})\] )re"
      R"re((?P<level>[A-Z]+) (?P<message>.*) \((?P<logger>[^ ()]*)\))re",
      {Typed("ts", FieldType::kTime, "%Y-%m-%d %H:%M:%S,%f")},
      "[2016-12-19 20:40:56,889] INFO Deleting segment 93039 from log test-2. (kafka.log.Log)",
  });
  p.push_back(BuiltinPattern{
      "laravel",
      "Laravel / Monolog line format '[Y-m-d H:i:s] env.LEVEL: message {context} [extra]'; "
      "the time has no zone and is read as UTC; stack-trace lines do not match",
      R"re(\[(?P<ts>[0-9]{4}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9])\] )re"
      R"re((?P<env>[^ ]+)\.(?P<level>[A-Z]+): (?P<message>.*))re",
      {Typed("ts", FieldType::kTime, "%Y-%m-%d %H:%M:%S")},
      R"([2023-05-15 18:19:49] local.ERROR: Uncaught ReflectionException: )"
      R"(Class "App\Providers\App\Policies\CustomerPolicy" does not exist in Command line code:1)",
  });
  return p;
}

#undef LOGPIPE_ACCESS_PREFIX
#undef LOGPIPE_REFERER_AGENT
#undef LOGPIPE_SYSLOG_TS

}  // namespace

const std::vector<BuiltinPattern>& BuiltinPatterns() {
  static const std::vector<BuiltinPattern>* const kPatterns =
      new std::vector<BuiltinPattern>(MakePatterns());
  return *kPatterns;
}

const BuiltinPattern* FindBuiltinPattern(std::string_view name) {
  for (const BuiltinPattern& p : BuiltinPatterns()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace logpipe
