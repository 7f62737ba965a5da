using System.Net;
using System.Net.Sockets;
using System.Text;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Admin;

/// <summary>Every abuse limit is configurable and refuses with a clear status without harming what is running.</summary>
public sealed class LimitsTests
{
    [Fact]
    public async Task MaxPoints_MaxStreams_MaxTracks_AreEnforced()
    {
        await using var server = await RunningServer.StartAsync(null,
            "--PublishingPoint:MaxPoints=1", "--PublishingPoint:MaxStreamsPerPoint=1", "--PublishingPoint:MaxTracksPerStream=1");
        var capture = await IsmvCapture.SixSecondsAsync(); // video + audio: two tracks
        var (tracks, body) = await Posting.PostChunkedAsync(server.Http, "live/one.isml/Streams(a)", capture);
        Assert.Equal(HttpStatusCode.BadRequest, tracks);
        Assert.Contains("at most 1", body, StringComparison.Ordinal);

        var videoOnly = await IsmvCapture.MakeAsync(2, 300, 0);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/one.isml/Streams(a)", videoOnly)).Status);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await Posting.PostChunkedAsync(server.Http, "live/one.isml/Streams(b)", videoOnly)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/one.isml/Streams(a)", videoOnly)).Status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await Posting.PostChunkedAsync(server.Http, "live/two.isml/Streams(a)", videoOnly)).Status);
        var manifest = await SmoothManifestView.FetchAsync(server.Http, "live/one.isml/Manifest");
        Assert.Single(manifest.ChunkTimes("video"));
    }

    [Fact]
    public async Task SlowlorisBelowTheRateFloor_IsCut()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MinIngestBytesPerSecond=50000", "--PublishingPoint:IngestIdleTimeoutSeconds=60");
        var capture = await IsmvCapture.SixSecondsAsync();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.BaseUrl.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /live/slow.isml/Streams(a) HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
        var cut = false;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            // 100 bytes a second, far under the 50 kB/s floor: Kestrel must drop us after its 5 s grace.
            for (var at = 0; at < capture.Length && clock.Elapsed < TimeSpan.FromSeconds(20); at += 100)
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes("64\r\n"));
                await stream.WriteAsync(capture.AsMemory(at, 100));
                await stream.WriteAsync("\r\n"u8.ToArray());
                await Task.Delay(1000);
                if (client.Client.Poll(0, SelectMode.SelectRead))
                {
                    cut = true;
                    break;
                }
            }
        }
        catch (IOException)
        {
            cut = true;
        }

        Assert.True(cut, "a body trickling under the rate floor was never cut");
        Assert.InRange(clock.Elapsed.TotalSeconds, 4, 15);
    }
}
