using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Transport;

/// <summary>
/// Players are answered on the socket engine's event threads; ingest (which appends and fsyncs the archive) never runs
/// there. Seen from the server's own clock, which records the thread of every call a request makes while a phase is
/// recorded: ingest asks it for each fragment it indexes, the HLS playlist for each answer.
/// </summary>
public sealed class EventLoopTests
{
    private const string Point = "live/loop.isml";

    [Fact]
    public async Task PlayersRunOnTheEventThreads_AndNeitherAPushNorAConnectionThatCarriedAPutDoes()
    {
        var clock = new ThreadRecordingClock();
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<TimeProvider>(clock), "--PublishingPoint:FinalizeGraceSeconds=60");

        clock.Start();
        var push = await Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { Seconds = 6, RealTime = true });
        Assert.True(push.ExitCode == 0, Tool.Describe(push));
        var ingest = clock.Stop();
        Assert.True(ingest.Count >= 3, $"the clock was asked {ingest.Count} times during the push");
        Assert.DoesNotContain(ingest, t => t.OnEventThread);

        // A player's own connection: the one that asked for /metrics has left the event loop for good.
        // Its first request may be read by the pool thread that starts the connection, if the bytes are already there,
        // and so may the next, when the client sends it before that thread has come back for it (on a loaded machine):
        // the phase starts once an answer came from an event thread.
        using var player = new HttpClient { BaseAddress = server.BaseUrl };
        await OnTheEventLoopAsync(player, clock);
        clock.Start();
        await AskForPlaylistsAsync(player, 10);
        // Only the delivery's own calls: the push's end (its connection closed after ffmpeg exited) may still be
        // handled on the pool while these playlists are asked for.
        var play = clock.Stop().Where(Answering).ToList();
        Assert.NotEmpty(play);
        Assert.All(play, t => Assert.True(t.OnEventThread, $"a playlist was answered on '{t.Name}', from {t.Stack}"));

        // A time-shifted playlist is rendered for itself on the pool (RenderedResponses hops there before the render).
        // Its thread is not asserted: the render asks no clock, and the thread its answer is counted on is not the
        // render's (a send that completes later resumes the request on the connection's event thread). Inferring one
        // from the other failed twice on loaded CI machines.
        using (var shifted = await player.GetAsync(new Uri($"{Point}/hls/video-400000.m3u8?delay=2", UriKind.Relative)))
        {
            Assert.True(shifted.IsSuccessStatusCode, $"the shifted playlist answered {shifted.StatusCode}");
        }

        // The same connection carries a file PUT (segmented ingest, with a Content-Length: Kestrel hands its body to the
        // request on the thread that read it): the connection leaves the event loop for good, its later playlists too.
        using (var put = await player.PutAsync(new Uri($"{Point}/side/index.m3u8", UriKind.Relative), new ByteArrayContent("#EXTM3U\n"u8.ToArray())))
        {
            Assert.True(put.IsSuccessStatusCode, $"the playlist PUT answered {put.StatusCode}: {await put.Content.ReadAsStringAsync()}");
        }

        clock.Start();
        await AskForPlaylistsAsync(player, 3);
        var after = clock.Stop();
        Assert.NotEmpty(after);
        Assert.DoesNotContain(after, t => t.OnEventThread);
        var metrics = await server.Http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        Assert.Matches(@"publishingpoint_transport_event_loop_connections_left(_total)? [1-9]", metrics);
    }

    [Fact]
    public async Task WithEventLoopServingOff_PlayersRunOnThePool()
    {
        var capture = await IsmvCapture.SixSecondsAsync();
        var clock = new ThreadRecordingClock();
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<TimeProvider>(clock),
            "--PublishingPoint:FinalizeGraceSeconds=60", "--PublishingPoint:EventLoopServing=false");
        var (status, body) = await Posting.PostChunkedAsync(server.Http, $"{Point}/Streams(a)", capture);
        Assert.True(status == System.Net.HttpStatusCode.OK, body);

        clock.Start();
        await AskForPlaylistsAsync(server.Http, 10);
        var play = clock.Stop();
        Assert.NotEmpty(play);
        Assert.DoesNotContain(play, t => t.OnEventThread);
    }

    [Fact]
    public async Task TlsConnections_StayOnThePool_FromBeforeTheirHandshake()
    {
        var capture = await IsmvCapture.SixSecondsAsync();
        var certificate = await TestCertificate.CreateAsync();
        var clock = new ThreadRecordingClock();
        await using var server = await RunningServer.StartAsync(null, services => services.AddSingleton<TimeProvider>(clock),
            [.. certificate.ServerSettings, "--PublishingPoint:FinalizeGraceSeconds=60"]);
        using var client = certificate.Trusting(server.BaseUrl, System.Net.HttpVersion.Version11);
        var (status, body) = await Posting.PostChunkedAsync(client, $"{Point}/Streams(a)", capture);
        Assert.True(status == System.Net.HttpStatusCode.OK, body);

        using var player = certificate.Trusting(server.BaseUrl, System.Net.HttpVersion.Version11);
        await AskForPlaylistsAsync(player, 1);
        clock.Start();
        await AskForPlaylistsAsync(player, 10);
        var play = clock.Stop();
        Assert.NotEmpty(play);
        Assert.DoesNotContain(play, t => t.OnEventThread);
    }

    private static async Task OnTheEventLoopAsync(HttpClient player, ThreadRecordingClock clock)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            clock.Start();
            await AskForPlaylistsAsync(player, 1);
            var calls = clock.Stop().Where(Answering).ToList();
            if (calls.Count > 0 && calls.All(t => t.OnEventThread))
            {
                return;
            }
        }

        Assert.Fail("twenty playlists in a row on one connection were answered off the event threads");
    }

    // The delivery's own calls, or the count of an answer given again below Kestrel (AnswerReplay), which runs where
    // the connection's reads complete.
    private static bool Answering((string Name, bool OnEventThread, string Stack) call) =>
        call.Stack.Contains("PublishingPoint.Server.Delivery.", StringComparison.Ordinal) || call.Stack.Contains("ReplayedAnswers.Answered", StringComparison.Ordinal);

    private static async Task AskForPlaylistsAsync(HttpClient client, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var answer = await client.GetAsync(new Uri($"{Point}/hls/video-400000.m3u8", UriKind.Relative));
            Assert.True(answer.IsSuccessStatusCode, $"playlist answered {answer.StatusCode}");
        }
    }

    private sealed class ThreadRecordingClock : TimeProvider
    {
        private ConcurrentQueue<(string Name, bool OnEventThread, string Stack)>? _calls;

        public void Start() => _calls = new();

        public IReadOnlyCollection<(string Name, bool OnEventThread, string Stack)> Recorded => _calls ?? [];

        public List<(string Name, bool OnEventThread, string Stack)> Stop()
        {
            var calls = _calls!;
            _calls = null;
            return [.. calls];
        }

        public override DateTimeOffset GetUtcNow()
        {
            // Only the requests' own calls: the server's background sweeps ask the clock on pool threads at any time.
            if (_calls is { } calls && Environment.StackTrace is var stack && FromARequest(stack))
            {
                var thread = Thread.CurrentThread;
                // The runtime names its socket engines' threads so; pool workers are thread-pool threads.
                var onEventThread = !thread.IsThreadPoolThread && thread.Name == ".NET Sockets";
                calls.Enqueue((thread.Name ?? "?", onEventThread, OurFrames(stack)));
            }

            return base.GetUtcNow();
        }

        // The server's own frames of a call, for a failure's message.
        private static string OurFrames(string stack) =>
            string.Join(" <- ", stack.Split('\n').Where(f => f.Contains("PublishingPoint.Server.", StringComparison.Ordinal) && !f.Contains(".Tests.", StringComparison.Ordinal))
                .Select(f => f.Trim()).Take(8));

        private static bool FromARequest(string stack) =>
            stack.Contains("PublishingPoint.Server.Delivery.", StringComparison.Ordinal)
            || stack.Contains("PublishingPoint.Server.Ingest.", StringComparison.Ordinal)
            || stack.Contains("PublishingPoint.Server.Observability.RequestObservation", StringComparison.Ordinal)
            || stack.Contains("PublishingPoint.Server.Observability.ReplayedAnswers", StringComparison.Ordinal);
    }
}
