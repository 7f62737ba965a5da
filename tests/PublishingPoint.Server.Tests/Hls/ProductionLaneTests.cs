using System.Globalization;
using System.Net;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Hls;

/// <summary>
/// With PublishingPoint:ProductionThreads, viewers' segments are made on the production lane: threads of their own at a
/// higher nice value than ingest's pool threads, so a crowd of joining viewers leaves the cores to the encoders first. Seen from outside: the lane's
/// counter on /metrics, and the threads' names and nice values in /proc.
/// </summary>
public sealed class ProductionLaneTests
{
    private const string LaneRuns = "publishingpoint_delivery_production_lane_runs";

    [Fact]
    public async Task ASegment_IsMadeOnTheLane_WhoseThreadsRunAtNice10()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:ProductionThreads=4");
        var capture = await IsmvCapture.SixSecondsAsync();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/lane.isml/Streams(a)", capture)).Status);
        var before = await PrometheusText.SumAsync(server.Http, LaneRuns);

        await AssertTsSegmentAsync(server, "live/lane.isml/hls/video-400000/0.ts");

        Assert.True(await PrometheusText.SumAsync(server.Http, LaneRuns) > before, "no production ran on the lane");
        var lane = LaneThreads();
        Assert.True(lane.Count >= 4, $"{lane.Count} production threads in the process");
        Assert.All(lane, t => Assert.True(t.Nice == 10, $"thread {t.Name} runs at nice {t.Nice}"));
    }

    [Fact]
    public async Task ByDefault_SegmentsAreMadeOnThePool()
    {
        await using var server = await RunningServer.StartAsync(null);
        var capture = await IsmvCapture.SixSecondsAsync();
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/pool.isml/Streams(a)", capture)).Status);

        await AssertTsSegmentAsync(server, "live/pool.isml/hls/video-400000/0.ts");
        await AssertTsSegmentAsync(server, "live/pool.isml/hls/video-400000/1.ts");

        Assert.Equal(0, await PrometheusText.SumAsync(server.Http, LaneRuns));
    }

    private static async Task AssertTsSegmentAsync(RunningServer server, string url)
    {
        using var response = await server.Http.GetAsync(new Uri(url, UriKind.Relative));
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url} answered {response.StatusCode}");
        Assert.True(body.Length > 188 && body[0] == 0x47 && body[188] == 0x47, $"{url} is not MPEG-TS ({body.Length} bytes)");
    }

    // Every server this test process runs has its lane: all of them run at the default nice value.
    private static List<(string Name, int Nice)> LaneThreads()
    {
        var threads = new List<(string, int)>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                var name = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                if (name.StartsWith("production ", StringComparison.Ordinal))
                {
                    // stat: "pid (comm) state ...": the nice value is the 19th field, the 17th after the comm's ')'.
                    var stat = File.ReadAllText(Path.Combine(task, "stat"));
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    threads.Add((name, int.Parse(fields[16], CultureInfo.InvariantCulture)));
                }
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        return threads;
    }
}
