using Microsoft.Extensions.Options;

namespace PublishingPoint.Server.Configuration;

/// <summary>The "PublishingPoint" section of appsettings.json.</summary>
public sealed record PublishingPointOptions
{
    public const string Section = "PublishingPoint";

    /// <summary>Where archives and VOD manifests live; a relative path is under $STATE_DIRECTORY when set, else the working directory.</summary>
    public string DataPath { get; set; } = "data";

    /// <summary>How much of the past a live manifest exposes.</summary>
    public int DvrWindowSeconds { get; set; } = 300;

    /// <summary>
    /// How much of each track's newest media keeps its bytes in memory (what players at the live edge ask for: segments
    /// are repackaged once, when they first are, and served from the segment cache after); older fragments of the DVR
    /// window, time-shift and VOD are read from the archive through the page cache, so memory does not grow with the
    /// window. Capped by the DVR window; the newest fragment always stays, and 0 (the default) keeps only it: at 200
    /// channels a 4 s window cost 0.6 GB more RSS and a fifth more CPU, and the heap's growth made fragments late.
    /// </summary>
    public int MemoryWindowSeconds { get; set; }

    /// <summary>Fragments announced ahead in a live fragment's 'tfrf' and in the manifest's LookAheadFragmentCount.</summary>
    public int LookAheadFragmentCount { get; set; } = 2;

    /// <summary>Largest single box an encoder may send (an 'mdat' is the usual largest).</summary>
    public long MaxBoxBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// How long a point stays live after its last encoder disconnected without sending 'mfra', so a reconnect
    /// (or the next POST of a one-POST-per-segment encoder) continues it; 0 finalises at once.
    /// </summary>
    public int FinalizeGraceSeconds { get; set; } = 10;

    /// <summary>Roll each stream's archive over into a new self-contained .ismv every this many seconds of media; 0 keeps one file per stream.</summary>
    public int ArchiveSegmentSeconds { get; set; }

    /// <summary>Delete archive files whose media ended more than this many seconds before the live edge; 0 keeps everything.</summary>
    public int ArchiveLengthSeconds { get; set; }

    /// <summary>
    /// A stream's archive file also rolls over (at its next keyframe) once it holds this many fragments of one track: a
    /// file's index entries can leave memory (<see cref="MaxIndexBytes"/>) only once the file is finished.
    /// </summary>
    public int ArchiveFileMaxFragments { get; set; } = 10_000;

    /// <summary>
    /// Memory the whole server's fragment index may take (an entry per fragment and track, about 136 bytes). Past it, the
    /// point holding most of the index drops its oldest finished archive file from the index: the file stays in the
    /// point's folder, its media is no longer served. Archives kept for ever (ArchiveLengthSeconds 0) are what reaches it.
    /// </summary>
    public long MaxIndexBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>Target fragment length when cutting MPEG-TS ingest (at the first keyframe at or after it).</summary>
    public double TsFragmentSeconds { get; set; } = 2;

    /// <summary>Most points this server holds; a push or create past it gets 503.</summary>
    public int MaxPoints { get; set; } = 100;

    /// <summary>Most stream ids feeding one point; one more gets 429.</summary>
    public int MaxStreamsPerPoint { get; set; } = 16;

    /// <summary>Most connections feeding one stream id at once (redundant encoders may share an id); one more gets 429.</summary>
    public int MaxConnectionsPerStream { get; set; } = 4;

    /// <summary>
    /// Most connections one client address holds at once (IPv6: one /64); one more is closed on arrival. The trusted
    /// proxies are not limited. 0: no limit.
    /// </summary>
    public int MaxConnectionsPerAddress { get; set; } = 1000;

    /// <summary>
    /// Wrong secrets (ingest secrets, the operator key) one client address (IPv6: one /64) may present within a minute;
    /// then every secret it presents is refused unchecked (429) until a minute after its last wrong one. 0: no limit.
    /// </summary>
    public int MaxWrongSecretsPerMinute { get; set; } = 10;

    /// <summary>
    /// The slowest a player may take an answer, in bytes a second, after 5 s of grace (Kestrel's MinResponseDataRate,
    /// whose own 240 B/s lets a player that stops reading hold a 1 MB segment for an hour); slower, the connection is
    /// cut. 0: no minimum.
    /// </summary>
    public int MinResponseBytesPerSecond { get; set; } = 4096;

    /// <summary>
    /// Bytes of answers held in memory for clients that have not taken them yet, summed over the server; past it the
    /// connections that have waited longest are cut. 0: an eighth of the memory the runtime sees, at least 256 MB.
    /// </summary>
    public long MaxUnsentAnswerBytes { get; set; }

    /// <summary>
    /// Most bytes the kernel holds unsent for one connection (TCP_NOTSENT_LOWAT, Linux): the rest of an answer waits in
    /// the server, under <see cref="MaxUnsentAnswerBytes"/>, instead of in kernel memory that every socket shares. Lowered
    /// at start (not below 16 KB) so that the server's most connections hold at most half of the kernel's TCP memory
    /// (net.ipv4.tcp_mem). 0: the kernel's own (as much as the socket's send buffer, up to 4 MB).
    /// </summary>
    public int KernelUnsentKilobytes { get; set; } = 256;

    /// <summary>Bytes of media one ingest connection may hold before they are indexed (a box in progress, chunks waiting for a keyframe); over it: 413.</summary>
    public long MaxIngestBytesPerConnection { get; set; } = 160L * 1024 * 1024;

    /// <summary>The same, summed over a point's connections; over it: 503.</summary>
    public long MaxIngestBytesPerPoint { get; set; } = 512L * 1024 * 1024;

    /// <summary>The same, summed over the server; over it: 503.</summary>
    public long MaxIngestBytesPerServer { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>
    /// Fragment bytes the index of one point keeps in memory (each track's newest fragment and the memory window); past
    /// it the point's oldest kept bytes, and then its newest, are dropped and read from the archive instead (their sample
    /// tables stay).
    /// </summary>
    public long MaxMemoryWindowBytesPerPoint { get; set; } = 512L * 1024 * 1024;

    /// <summary>The same, summed over the server; past it the point keeping the most drops its oldest first.</summary>
    public long MaxMemoryWindowBytesPerServer { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Archive files one stream may start because its header changed (a new 'moov'); the next change is refused with 429. Rollover files do not count.</summary>
    public int MaxArchiveRunsPerStream { get; set; } = 32;

    /// <summary>Archive files kept open for reading at once (least recently read are closed first); far inside the process's file limit.</summary>
    public int MaxOpenArchiveFiles { get; set; } = 1024;

    /// <summary>Bytes of rendered manifests, playlists and MPDs kept per point (least recently asked go first).</summary>
    public long MaxRenderedBytesPerPoint { get; set; } = 16L * 1024 * 1024;

    /// <summary>Most tracks one stream may announce in its 'moov'.</summary>
    public int MaxTracksPerStream { get; set; } = 16;

    /// <summary>
    /// Most tracks a point gathers from all its streams and their headers (a track stays for the point's life, in its
    /// playlists, API and metrics): a header that would pass it is refused with 409.
    /// </summary>
    public int MaxTracksPerPoint { get; set; } = 64;

    /// <summary>An ingest that sends nothing for this long is cut (its complete fragments are kept).</summary>
    public int IngestIdleTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// How far ahead of the live edge (the newest media plus the time since it arrived) a fragment may start; one
    /// further ahead is refused with 400, so a fragment stamped in the future cannot make every real one a duplicate.
    /// </summary>
    public int MaxFragmentLeadSeconds { get; set; } = 60;

    /// <summary>Slowest body rate an encoder may keep up (bytes/s, averaged after a 5 s grace); 0 turns the floor off.</summary>
    public int MinIngestBytesPerSecond { get; set; } = 240;

    /// <summary>Secret every encoder must present (?token= or basic auth password); empty leaves ingest open. A point's own secret replaces it.</summary>
    public string? IngestSecret { get; set; }

    /// <summary>Operator credential for /api and the dashboard (X-Api-Key header or basic auth password); empty allows loopback clients only.</summary>
    public string? AdminApiKey { get; set; }

    /// <summary>Listening beyond loopback without an IngestSecret is refused unless this says anonymous ingest is wanted.</summary>
    public bool AllowAnonymousIngest { get; set; }

    /// <summary>Listening beyond loopback without an AdminApiKey is refused unless this keeps key-less operator access for direct loopback clients.</summary>
    public bool AllowAnonymousOperator { get; set; }

    /// <summary>
    /// Addresses (or CIDR networks) of reverse proxies and CDN edges whose X-Forwarded-For / X-Forwarded-Proto are
    /// believed; from anyone else those headers are ignored. Empty: no proxy is trusted.
    /// </summary>
    public IReadOnlyList<string> TrustedProxies { get; set; } = [];

    /// <summary>
    /// Web origins whose pages may load manifests and segments (CORS on every delivery answer, errors and preflights
    /// included); empty (the default) or "*" lets any page, and every answer then carries Access-Control-Allow-Origin: *
    /// so a CDN can cache one copy for all.
    /// </summary>
    public IReadOnlyList<string> CorsOrigins { get; set; } = [];

    /// <summary>HMAC key for signed playback URLs (/s/{expiry}/{signature}/{point}.isml/...); empty leaves playback open.</summary>
    public string? PlaybackSigningKey { get; set; }

    /// <summary>Free space the data folder's disk must have for /health/ready to say ready.</summary>
    public long MinFreeDiskBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// Archive bytes one point may hold on disk (0: no bound but <see cref="MinFreeDiskBytes"/>): past it the point's
    /// fragments are refused with 507 and the other points go on. For a server whose points have secrets of their own.
    /// </summary>
    public long MaxPointDiskBytes { get; set; }

    /// <summary>fsync the archive after every fragment before it is indexed (durable before visible).</summary>
    public bool FsyncArchive { get; set; } = true;

    /// <summary>
    /// Send large cached bodies (segments, fragments) from memory straight to the socket, with no copy into
    /// Kestrel's output buffers, on plain-HTTP/1 connections; false leaves Kestrel's socket output as it is.
    /// </summary>
    public bool DirectSend { get; set; } = true;

    /// <summary>
    /// Kestrel runs a connection's request code on the thread that completed its socket read (a thread-pool thread that
    /// handles the socket engine's events) instead of queueing it to the pool once more: one thread hop less per request.
    /// </summary>
    public bool InlineScheduling { get; set; } = true;

    /// <summary>
    /// Players' connections are served on the socket engine's event threads (one per core), without a hand-over to the
    /// thread pool per read; a connection carrying any other request (ingest, the API, /metrics) moves to the pool for good
    /// before that request runs. Needs <see cref="InlineScheduling"/>.
    /// </summary>
    public bool EventLoopServing { get; set; } = true;

    /// <summary>
    /// A player's plain GET that gets the same answer as one before it (a playlist at the same version, a cached segment)
    /// is answered below Kestrel's HTTP/1 code, from the kept answer; everything else goes through Kestrel as before. Needs
    /// <see cref="DirectSend"/>.
    /// </summary>
    public bool AnswerReplay { get; set; } = true;

    /// <summary>
    /// A connection keeps its receive buffer (one block of <see cref="ReceiveBlockKilobytes"/>) between requests, so the next request is
    /// read with one system call instead of a zero-byte read to wait for it and then the read (Kestrel's
    /// WaitForDataBeforeAllocatingBuffer off). Costs a block per open connection; Kestrel:Limits:MaxConcurrentConnections bounds them.
    /// </summary>
    public bool ReceiveBufferUpFront { get; set; } = true;

    /// <summary>
    /// Size of the blocks Kestrel receives into (4 to 64 KB; 4 is Kestrel's own pool): one receive call and one turn of
    /// the body parsers per block, so an encoder's fragments take a fourth of the calls at 16 than at 4.
    /// </summary>
    public int ReceiveBlockKilobytes { get; set; } = 16;

    /// <summary>
    /// Folder for the file copies of cached segments that DirectSend sends with sendfile (unlinked as soon as written,
    /// so it stays empty); empty uses ".spool" in the data folder. A relative path is resolved as DataPath.
    /// </summary>
    public string? SpoolPath { get; set; }

    /// <summary>Spooled segment copies open at once (each a file descriptor); past it, segments are sent from memory.</summary>
    public int MaxSpooledFiles { get; set; } = 4096;

    /// <summary>
    /// The request for a cached segment from which it is sent from a spooled copy (with sendfile); the ones before it are
    /// sent from memory. 1 spools every segment as it is produced. A segment behind a CDN is asked for once or twice,
    /// and for those a file's creation and the copy into it cost more than the copies into the socket they would save.
    /// </summary>
    public int SpoolAtRequest { get; set; } = 3;

    /// <summary>
    /// Threads that make viewers' segments, at <see cref="ProductionNice"/>, so that ingest goes first when a crowd of
    /// viewers arrives at once; 0 (the default) makes them on the thread pool, where ingest runs too. Off by default:
    /// in alternating 200-channel runs it cut late listings in 11 of 17 pairs, within this machine's spread, and made
    /// joining viewers' first segments later in most (docs/benchmarks.md, "A lane for productions").
    /// </summary>
    public int ProductionThreads { get; set; }

    /// <summary>The nice value (0 to 19, Linux) of the <see cref="ProductionThreads"/>: the higher, the more ingest goes first.</summary>
    public int ProductionNice { get; set; } = 10;

    /// <summary>
    /// Repackaged HLS segments kept, in memory and spool together (estimated before production at twice their
    /// fragments' bytes); the least recently asked-for fifth makes room when full.
    /// </summary>
    public int SegmentCacheMegabytes { get; set; } = 512;

    /// <summary>
    /// Productions one client network (an IPv4 address, an IPv6 /64; behind TrustedProxies, the forwarded client) may
    /// leave going by hanging up before they end (0: no bound): while it has that many, it may start no other (503 with
    /// Retry-After). A run goes on when its request is aborted; this bounds what a client asking for distinct archived
    /// segments and hanging up at once can start. A client that waits for its segments is never refused.
    /// </summary>
    public int MaxProductionsPerAddress { get; set; } = 32;

    /// <summary>Copying HLS and DASH output to a folder or an S3 bucket as it completes ("PublishingPoint:Publish").</summary>
    public PublishOptions Publish { get; set; } = new();
}

internal sealed class PublishingPointOptionsValidator : IValidateOptions<PublishingPointOptions>
{
    public ValidateOptionsResult Validate(string? name, PublishingPointOptions options)
    {
        var failures = Rules(options).Where(rule => rule.Broken).Select(rule => rule.Message).ToList();
        foreach (var proxy in options.TrustedProxies)
        {
            if (!System.Net.IPNetwork.TryParse(proxy, out _) && !System.Net.IPAddress.TryParse(proxy, out _))
            {
                failures.Add($"PublishingPoint:TrustedProxies: '{proxy}' is not an IP address or a CIDR network.");
            }
        }

        failures.AddRange(options.Publish.Validate());
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static (bool Broken, string Message)[] Rules(PublishingPointOptions options) =>
    [
        (string.IsNullOrWhiteSpace(options.DataPath),
            "PublishingPoint:DataPath must be set."),
        (!string.IsNullOrEmpty(options.PlaybackSigningKey) && options.PlaybackSigningKey.Trim().Length < 16,
            "PublishingPoint:PlaybackSigningKey, when set, must have at least 16 characters: one signed URL lets anyone try keys offline."),
        (options.DvrWindowSeconds is < 10 or > 7 * 24 * 3600,
            "PublishingPoint:DvrWindowSeconds must be between 10 and 604800."),
        (options.MemoryWindowSeconds is < 0 or > 7 * 24 * 3600,
            "PublishingPoint:MemoryWindowSeconds must be between 0 and 604800."),
        (options.LookAheadFragmentCount is < 0 or > 10,
            "PublishingPoint:LookAheadFragmentCount must be between 0 and 10."),
        // A fragment ('moof' and 'mdat', each up to it) is held in one array: two of the largest must fit in one.
        (options.MaxBoxBytes is < 64 * 1024 or > 512L * 1024 * 1024,
            "PublishingPoint:MaxBoxBytes must be between 65536 and 536870912."),
        (options.ArchiveSegmentSeconds is < 0 or > 86400 || (options.ArchiveSegmentSeconds is > 0 and < 10) || options.ArchiveLengthSeconds < 0,
            "PublishingPoint:ArchiveSegmentSeconds must be 0 or 10 to 86400; ArchiveLengthSeconds 0 or more."),
        (options.ArchiveFileMaxFragments < 2 || options.MaxIndexBytes < 1,
            "PublishingPoint:ArchiveFileMaxFragments must be at least 2, MaxIndexBytes at least 1."),
        (options.TsFragmentSeconds is < 0.5 or > 60,
            "PublishingPoint:TsFragmentSeconds must be between 0.5 and 60."),
        (options.MaxPointDiskBytes < 0,
            "PublishingPoint:MaxPointDiskBytes must be 0 (no bound) or more."),
        (options.MaxPoints < 1 || options.MaxStreamsPerPoint < 1 || options.MaxTracksPerStream < 1 || options.MaxTracksPerPoint < options.MaxTracksPerStream,
            "PublishingPoint:MaxPoints, MaxStreamsPerPoint and MaxTracksPerStream must be at least 1, MaxTracksPerPoint at least MaxTracksPerStream."),
        (options.IngestIdleTimeoutSeconds is < 1 or > 3600 || options.MinIngestBytesPerSecond < 0,
            "PublishingPoint:IngestIdleTimeoutSeconds must be between 1 and 3600, MinIngestBytesPerSecond at least 0."),
        (options.MaxArchiveRunsPerStream < 1 || options.MaxOpenArchiveFiles is < 16 or > 1_000_000,
            "PublishingPoint:MaxArchiveRunsPerStream must be at least 1, MaxOpenArchiveFiles between 16 and 1000000."),
        (options.MaxUnsentAnswerBytes is < 0 or (> 0 and < 1024 * 1024),
            "PublishingPoint:MaxUnsentAnswerBytes must be 0 (an eighth of the memory) or at least 1048576."),
        (options.KernelUnsentKilobytes is < 0 or (> 0 and < 16) or > 65536,
            "PublishingPoint:KernelUnsentKilobytes must be 0 (the kernel's own) or between 16 and 65536."),
        (options.MinResponseBytesPerSecond is < 0 or > 100 * 1024 * 1024,
            "PublishingPoint:MinResponseBytesPerSecond must be between 0 (no minimum) and 104857600."),
        (options.MaxSpooledFiles < 0 || options.SpoolAtRequest is < 1 or > 1_000_000,
            "PublishingPoint:MaxSpooledFiles must be 0 (no spool) or more, SpoolAtRequest between 1 and 1000000."),
        (options.ProductionThreads is < 0 or > 256 || options.ProductionNice is < 0 or > 19,
            "PublishingPoint:ProductionThreads must be between 0 (the thread pool) and 256, ProductionNice between 0 and 19."),
        (options.SegmentCacheMegabytes is < 16 or > 1024 * 1024,
            "PublishingPoint:SegmentCacheMegabytes must be between 16 and 1048576."),
        (options.MaxProductionsPerAddress < 0,
            "PublishingPoint:MaxProductionsPerAddress must be 0 (no bound) or more."),
        (options.MaxRenderedBytesPerPoint is < 64 * 1024 or > 1024L * 1024 * 1024,
            "PublishingPoint:MaxRenderedBytesPerPoint must be between 65536 and 1073741824."),
        (options.MaxWrongSecretsPerMinute < 0, "PublishingPoint:MaxWrongSecretsPerMinute must be at least 0."),
        (options.MaxConnectionsPerStream < 1 || options.MaxConnectionsPerAddress < 0,
            "PublishingPoint:MaxConnectionsPerStream must be at least 1, MaxConnectionsPerAddress at least 0."),
        (options.MaxIngestBytesPerConnection < options.MaxBoxBytes * 2 || options.MaxIngestBytesPerPoint < options.MaxIngestBytesPerConnection || options.MaxIngestBytesPerServer < options.MaxIngestBytesPerPoint,
            "PublishingPoint:MaxIngestBytesPerConnection must be at least twice MaxBoxBytes, MaxIngestBytesPerPoint at least that, MaxIngestBytesPerServer at least MaxIngestBytesPerPoint."),
        (options.MaxMemoryWindowBytesPerPoint < 0 || options.MaxMemoryWindowBytesPerServer < options.MaxMemoryWindowBytesPerPoint,
            "PublishingPoint:MaxMemoryWindowBytesPerPoint must be at least 0, MaxMemoryWindowBytesPerServer at least MaxMemoryWindowBytesPerPoint."),
        (options.MaxFragmentLeadSeconds is < 1 or > 86400,
            "PublishingPoint:MaxFragmentLeadSeconds must be between 1 and 86400."),
        (options.FinalizeGraceSeconds is < 0 or > 3600,
            "PublishingPoint:FinalizeGraceSeconds must be between 0 and 3600."),
        (options.ReceiveBlockKilobytes is < 4 or > 64,
            "PublishingPoint:ReceiveBlockKilobytes must be between 4 and 64."),
    ];
}
