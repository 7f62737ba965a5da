using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PublishingPoint.Server.Tests.Hls;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Ingest;

/// <summary>
/// One Smooth stream (the bytes ffmpeg's ismv muxer sends) as successive PUTs to Streams(id), the way GStreamer's
/// souphttpclientsink sends ismlmux output: curl is the client, pieces cut anywhere (inside boxes too), with and
/// without Content-Range. Bytes sent again are ignored, a gap is refused with 416, a reconnect that starts over with
/// the header continues the point, and the result plays (ffprobe decodes every frame of the HLS output). Every piece is
/// answered promptly.
/// </summary>
public sealed class ContinuedIngestTests
{
    private const string Point = "live/pieces.isml";

    [Fact]
    public async Task PiecesPutInOrder_WithRepeatsGapsAndAReconnect_MakeOneStream()
    {
        var stream = await IsmvCapture.MakeAsync(8, 300, 64);
        await using var server = await RunningServer.StartAsync();
        var url = server.Url($"{Point}/Streams(g1)").ToString();
        var folder = TempDirectory.Create("pp-pieces");
        var cuts = new List<int> { 0 };
        for (var at = 1000; at < stream.Length; at += 7919)
        {
            cuts.Add(at);
        }

        cuts.Add(stream.Length);
        var half = cuts.Count / 2;

        // The first half in order, every other piece with Content-Range, the rest bare (appended).
        for (var i = 0; i < half; i++)
        {
            Assert.Equal("200", await PutAsync(folder, url, stream, cuts[i], cuts[i + 1], withRange: i % 2 == 0 || i == 0));
        }

        // A piece sent again, and one overlapping what arrived: both 200, nothing taken twice.
        Assert.Equal("200", await PutAsync(folder, url, stream, cuts[half - 1], cuts[half], withRange: true));
        Assert.Equal("200", await PutAsync(folder, url, stream, cuts[half - 1] + 10, cuts[half + 1], withRange: true));

        // A gap: refused, and the stream goes on from where it was.
        Assert.Equal("416", await PutAsync(folder, url, stream, cuts[half + 3], cuts[half + 4], withRange: true));

        // The encoder reconnects and starts over: the header again, then its fragments from the start (duplicates).
        Assert.Equal("200", await PutAsync(folder, url, stream, 0, cuts[half + 1], withRange: false));
        for (var i = half + 1; i + 1 < cuts.Count; i++)
        {
            Assert.Equal("200", await PutAsync(folder, url, stream, cuts[i], cuts[i + 1], withRange: true));
        }

        // The last piece held the 'mfra': the point is finalised at once (not when the stream has idled for 30 s), and
        // every frame plays.
        var playlist = "";
        await Eventually.WaitUntilAsync(async () => (playlist = await server.Http.GetStringAsync($"{Point}/hls/video-300000.m3u8")).Contains("#EXT-X-ENDLIST", StringComparison.Ordinal),
            "the point did not end within 10 s of its 'mfra'", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(250));
        Assert.Equal(4, HlsText.Segments(playlist).Count);
        var frames = await Tool.ProbeAsync(server.Url($"{Point}/hls/video-300000.m3u8").ToString(), "-select_streams", "v", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0");
        // (ffprobe lists the HLS video stream once per program it is in: every count is the whole 8 s.)
        Assert.All(frames.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            count => Assert.Equal(8 * 25, int.Parse(count, CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task APieceOfAStreamThatNeverStarted_IsRefusedWith409()
    {
        var stream = await IsmvCapture.MakeAsync(2, 300, 64);
        await using var server = await RunningServer.StartAsync();
        var folder = TempDirectory.Create("pp-pieces");

        Assert.Equal("409", await PutAsync(folder, server.Url($"{Point}/Streams(late)").ToString(), stream, 5000, 9000, withRange: true));
    }

    /// <summary>
    /// The encoder starts over (a piece from byte 0) while its previous piece is still arriving: that piece is refused
    /// with 409 at once (it belongs to the stream being replaced; its pipe is not written by two requests), and the
    /// new stream is taken whole.
    /// </summary>
    [Fact]
    public async Task AStartOverWhileAPieceIsStillArriving_RefusesThatPiece409()
    {
        var stream = await IsmvCapture.MakeAsync(4, 300, 64);
        await using var server = await RunningServer.StartAsync();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.BaseUrl.Port);
        var old = client.GetStream();
        await old.WriteAsync(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"PUT /{Point}/Streams(g2) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {stream.Length}\r\n\r\n")));
        await old.WriteAsync(stream.AsMemory(0, 20_000));
        await Eventually.WaitUntilAsync(async () =>
        {
            using var point = await server.Http.GetAsync($"api/points/{Point}");
            return point.IsSuccessStatusCode;
        }, "the first piece started no stream");

        Assert.Equal("200", await PutAsync(TempDirectory.Create("pp-pieces"), server.Url($"{Point}/Streams(g2)").ToString(), stream, 0, stream.Length, withRange: false));
        using var read = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var buffer = new byte[256];
        var length = 0;
        try
        {
            while (length < 12 && await old.ReadAsync(buffer.AsMemory(length), read.Token) is > 0 and var n)
            {
                length += n;
            }
        }
        catch (OperationCanceledException)
        {
            // no answer: checked below
        }

        Assert.StartsWith("HTTP/1.1 409", Encoding.ASCII.GetString(buffer, 0, length), StringComparison.Ordinal);
    }

    /// <summary>curl PUTs bytes [from, to) of the stream; returns the status code.</summary>
    private static async Task<string> PutAsync(string folder, string url, byte[] stream, int from, int to, bool withRange)
    {
        var file = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"{from}-{to}.bin"));
        await File.WriteAllBytesAsync(file, stream[from..to]);
        List<string> args = ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", "Content-Type: application/octet-stream", "--data-binary", "@" + file];
        if (withRange)
        {
            args.AddRange(["-H", string.Create(CultureInfo.InvariantCulture, $"Content-Range: bytes {from}-{to - 1}/*")]);
        }

        args.Add(url);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = await Tool.RunAsync("curl", args);
        Assert.True(result.ExitCode == 0, Tool.Describe(result));
        // Answered as soon as the session has looked at the bytes: a lost wake-up once held a piece for the whole 30 s
        // take limit (answered 200 late, and the stream meanwhile ended as idle).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"bytes {from}-{to} answered after {clock.Elapsed.TotalSeconds:0.0} s");
        return result.StdOut.Trim();
    }
}
