using System.Xml.Linq;
using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PublishingPoint.Server.Tests.Infrastructure;
using PublishingPoint.Server.Transport;

namespace PublishingPoint.Server.Tests.Security;

/// <summary>The smaller ways in: forged log lines, racing clips, a language that breaks out of a playlist, the spool's place and size.</summary>
public sealed class HostileInputTests
{
    [Theory]
    [InlineData("GET /live%0a[00:00:00%20INF]%20forged%0a.isml/Manifest HTTP/1.1")]
    [InlineData("GET /live/ch%0d%0a1.isml/Manifest HTTP/1.1")]
    [InlineData("PUT /live/ch1.isml/a%0ab.m3u8 HTTP/1.1")]
    [InlineData("POST /live/ch1.isml/Streams(a%0ab) HTTP/1.1")]
    public async Task EncodedLineBreaksInAPath_NeverBreakALogLine(string requestLine)
    {
        var capture = new LogCapture();
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<ILoggerProvider>(capture),
            "--Serilog:MinimumLevel:Default=Information");
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, server.BaseUrl.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"{requestLine}\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"));
        var answer = await new StreamReader(stream).ReadToEndAsync();
        Assert.Contains(" 400 ", answer.Split('\n')[0], StringComparison.Ordinal);
        await Eventually.WaitUntilAsync(() => !capture.Entries.IsEmpty, "nothing was logged");
        Assert.All(capture.Entries, e => Assert.False(e.Message.Contains('\n', StringComparison.Ordinal) || e.Message.Contains('\r', StringComparison.Ordinal), e.Message));
    }

    /// <summary>
    /// A point that does not exist gets no Point property (a made-up name a request would add to a log shipper's index),
    /// and its line break stays percent-encoded in the path: no forged line.
    /// </summary>
    [Fact]
    public async Task AnUnknownPointsNameWithALineBreak_ForgesNoLine_AndIsNoPointProperty()
    {
        // A sink whose template prints the property (the shipped console template does not).
        var file = Path.Combine(TempDirectory.Create("pp-log"), "requests.log");
        await using var server = await RunningServer.StartAsync(null,
            "--Serilog:MinimumLevel:Default=Information", "--Serilog:Using:9=Serilog.Sinks.File", "--Serilog:WriteTo:9:Name=File",
            $"--Serilog:WriteTo:9:Args:path={file}", "--Serilog:WriteTo:9:Args:outputTemplate=<{Point}> {Message:lj}{NewLine}");
        using var refused = await server.Http.GetAsync("live/x%0aFORGED.isml/Manifest");
        Assert.False(refused.IsSuccessStatusCode);
        string Read()
        {
            using var reader = new StreamReader(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            return reader.ReadToEnd();
        }

        await Eventually.WaitUntilAsync(() => File.Exists(file) && Read().Contains("Manifest -> ", StringComparison.Ordinal), "no request line");
        var line = Read().Split('\n').Single(l => l.Contains("Manifest -> ", StringComparison.Ordinal));
        Assert.StartsWith("<> ", line, StringComparison.Ordinal);
        Assert.Contains("/live/x%0AFORGED.isml/Manifest", line, StringComparison.Ordinal);
        Assert.DoesNotContain(Read().Split('\n'), l => l.StartsWith("FORGED", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ConcurrentClipsToOneTarget_OneIsCreated_TheOthersGet409_AndClipsCountAgainstMaxPoints()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxPoints=2");
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/src.isml/Streams(a)", await IsmvCapture.SixSecondsAsync())).Status);
        var point = await server.Http.GetFromJsonAsync<JsonElement>("api/points/live/src.isml");
        var anchor = point.GetProperty("timelineAnchor").GetDateTimeOffset();
        object Clip(string target) => new { source = "live/src.isml", path = target, start = anchor.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), end = (anchor.ToUnixTimeSeconds() + 6).ToString(System.Globalization.CultureInfo.InvariantCulture) };

        var racing = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => server.Http.PostAsJsonAsync("api/clips", Clip("clips/one.isml"))));
        var statuses = racing.Select(r => r.StatusCode).OrderBy(s => s).ToArray();
        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Conflict, HttpStatusCode.Conflict, HttpStatusCode.Conflict], statuses);
        using var full = await server.Http.PostAsJsonAsync("api/clips", Clip("clips/two.isml"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, full.StatusCode);
        Assert.False(Directory.Exists(Path.Combine(server.DataPath, "clips", "two.isml")));
    }

    [Fact]
    public async Task LanguageThatWouldBreakOutOfAPlaylistAttribute_IsDropped()
    {
        var capture = await IsmvCapture.SixSecondsAsync();
        // The encoder's SMIL says the audio language is `",X` (well-formed XML, three characters).
        var forged = ReplaceInManifestBox(capture, "value=\"und\"", "value=\"&quot;,X\"");
        await using var server = await RunningServer.StartAsync();
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/lang.isml/Streams(a)", forged);
        Assert.True(status == HttpStatusCode.OK, text);
        foreach (var master in new[] { "live/lang.isml/master-fmp4.m3u8", "live/lang.isml/master.m3u8" })
        {
            var playlist = await server.Http.GetStringAsync(master);
            foreach (var line in playlist.Split('\n').Where(l => l.StartsWith('#')))
            {
                Assert.True(line.Count(c => c == '"') % 2 == 0, line);
                Assert.DoesNotContain(",X", line.Replace(",X-", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
            }
        }

        var mpd = await server.Http.GetStringAsync("live/lang.isml/manifest.mpd");
        Assert.DoesNotContain("lang=\"&quot;", mpd, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CodecParametersThatAreNotWhatTheyAreMadeOf_FallBackToTheMediasOwn()
    {
        // The encoder's SMIL gives the audio a FourCC with a line break in it (an XML character reference) and a
        // CodecPrivateData that is not hex: both reached manifests and log lines as they came.
        var capture = await IsmvCapture.SixSecondsAsync();
        var forged = ReplaceInManifestBox(ReplaceInManifestBox(capture, "value=\"AACL\"", "value=\"A&#10;[ERR]\""), "name=\"CodecPrivateData\" value=\"", "name=\"CodecPrivateData\" value=\"zz");
        await using var server = await RunningServer.StartAsync();
        var (status, text) = await Posting.PostChunkedAsync(server.Http, "live/codec.isml/Streams(a)", forged);
        Assert.True(status == HttpStatusCode.OK, text);
        var manifest = await server.Http.GetStringAsync("live/codec.isml/Manifest");
        var audio = XDocument.Parse(manifest).Descendants("StreamIndex").Single(i => (string?)i.Attribute("Type") == "audio").Element("QualityLevel")!;
        Assert.Equal("AACL", (string?)audio.Attribute("FourCC"));
        Assert.Matches("^([0-9A-F]{2})+$", (string?)audio.Attribute("CodecPrivateData"));
    }

    [Fact]
    public async Task SegmentSpool_IsInTheDataFolder_AndHoldsAtMostMaxSpooledFiles()
    {
        await using var server = await RunningServer.StartAsync(null, "--PublishingPoint:MaxSpooledFiles=2");
        var spool = server.Services.GetRequiredService<SegmentSpool>();
        Assert.StartsWith(Path.GetFullPath(server.DataPath), Path.GetFullPath(spool.Folder!), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await Posting.PostChunkedAsync(server.Http, "live/spool.isml/Streams(a)", await IsmvCapture.MakeAsync(8, 1000, 0))).Status);
        for (var n = 0; n < 4; n++)
        {
            // The third request spools (SpoolAtRequest).
            var segment = await server.Http.GetByteArrayAsync($"live/spool.isml/hls/video-1000000/{n}.ts");
            Assert.Equal(segment, await server.Http.GetByteArrayAsync($"live/spool.isml/hls/video-1000000/{n}.ts"));
            Assert.Equal(segment, await server.Http.GetByteArrayAsync($"live/spool.isml/hls/video-1000000/{n}.ts"));
        }

        Assert.InRange(spool.OpenFiles, 1, 2);
    }

    private static byte[] ReplaceInManifestBox(byte[] capture, string from, string to)
    {
        var box = Boxes.TopLevel(capture).First(b => b.Type == "uuid");
        var bytes = capture.AsSpan(box.Offset, box.Size);
        var at = bytes.LastIndexOf(Encoding.UTF8.GetBytes(from)); // the audio track's parameter comes last
        Assert.True(at > 0, "no such text in the ISML manifest");
        byte[] replaced = [.. bytes[..at], .. Encoding.UTF8.GetBytes(to), .. bytes[(at + from.Length)..]];
        BinaryPrimitives.WriteInt32BigEndian(replaced, replaced.Length);
        return [.. capture.AsSpan(0, box.Offset), .. replaced, .. capture.AsSpan(box.Offset + box.Size)];
    }
}
