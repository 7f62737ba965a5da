using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PublishingPoint.Server.Ingest.Segments;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>
/// An encoder's pushed playlist is read only for its end. It was held whole (up to 1 MiB) with no time bound: a body
/// sent in a burst and then stalled, or trickled, stayed above the body-rate floor's average for over an hour, so a
/// thousand such PUTs from one address held a gigabyte. Now it is scanned as it comes and cut with 408 within the
/// ingest idle timeout between reads and twice it in all.
/// </summary>
public sealed class EncoderPlaylistTests
{
    [Theory]
    [InlineData(0)] // a burst, then nothing
    [InlineData(1)] // a burst, then a byte a second: never idle, never below the floor's average
    public async Task APlaylistBodyThatStalls_IsAnswered408_WithinTheIdleTimeoutAndItsDeadline(int trickleSeconds)
    {
        var capture = new LogCapture(LogLevel.Information);
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<ILoggerProvider>(capture),
            "--PublishingPoint:IngestIdleTimeoutSeconds=2", "--Serilog:MinimumLevel:Default=Information");
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.BaseUrl.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("PUT /live/stall.isml/video.m3u8 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n"));
        await stream.WriteAsync(new byte[100_000]);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        while (clock.Elapsed < TimeSpan.FromSeconds(15) && !answer.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            if (trickleSeconds > 0)
            {
                await stream.WriteAsync("#"u8.ToArray());
            }

            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(trickleSeconds > 0 ? trickleSeconds : 15));
            try
            {
                var read = await stream.ReadAsync(buffer, wait.Token);
                if (read == 0)
                {
                    break;
                }

                answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
            catch (OperationCanceledException)
            {
                // nothing yet: trickle on
            }
        }

        Assert.StartsWith("HTTP/1.1 408", answer.ToString(), StringComparison.Ordinal);
        Assert.InRange(clock.Elapsed.TotalSeconds, 1.5, 10); // idle 2 s, deadline 4 s, and a loaded machine's slack
        await Eventually.WaitUntilAsync(() => capture.Entries.Any(e => e.Message.Contains("playlist body", StringComparison.Ordinal) && e.Message.Contains("408", StringComparison.Ordinal)),
            "no log line for the stalled playlist", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void EndList_IsFound_WhereverTheReadsSplitIt()
    {
        var text = Encoding.ASCII.GetBytes("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n0.ts\n#EXT-X-ENDLIST\n");
        for (var split = 0; split <= text.Length; split++)
        {
            var scan = new EncoderPlaylistScan(mpd: false);
            scan.Feed(text.AsSpan(0, split));
            scan.Feed(text.AsSpan(split));
            Assert.True(scan.Ended, $"split at {split}");
        }

        var bytewise = new EncoderPlaylistScan(mpd: false);
        foreach (var b in text)
        {
            bytewise.Feed([b]);
        }

        Assert.True(bytewise.Ended);
        var live = new EncoderPlaylistScan(mpd: false);
        live.Feed(text.AsSpan(0, text.Length - 3));
        live.Feed("\n#EXT-X-ENDLIS"u8);
        Assert.False(live.Ended);
    }

    [Fact]
    public void AStaticMpd_IsFound_AcrossReads_InItsFirstStartTag()
    {
        var text = Encoding.UTF8.GetBytes("<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\">\n<Period/></MPD>");
        var scan = new EncoderPlaylistScan(mpd: true);
        scan.Feed(text.AsSpan(0, 40));
        scan.Feed(text.AsSpan(40));
        Assert.True(scan.Ended);
        var late = Encoding.UTF8.GetBytes(new string(' ', 5000) + "<MPD type=\"static\">");
        var grown = new EncoderPlaylistScan(mpd: true);
        for (var at = 0; at < late.Length; at += 1000)
        {
            grown.Feed(late.AsSpan(at, Math.Min(1000, late.Length - at)));
        }

        Assert.True(grown.Ended); // past the first 4 KB the head grows
        var dynamic = new EncoderPlaylistScan(mpd: true);
        dynamic.Feed(Encoding.UTF8.GetBytes("<MPD type=\"dynamic\"><!-- type=\"static\" --></MPD>"));
        Assert.False(dynamic.Ended);
    }
}
