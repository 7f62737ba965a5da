using Microsoft.Extensions.Options;
using PublishingPoint.Server.Configuration;

namespace PublishingPoint.Server.Transport;

/// <summary>
/// Bytes of answers held in memory for clients that have not taken them: an answer the socket could not take at once
/// waits in the process for the client to read it (a spooled file region costs no memory and is not counted). A player
/// that stops reading holds its answer for as long as <c>MinResponseBytesPerSecond</c> allows, and thousands of them,
/// each on an answer of its own (a start-over playlist of a day-long event is over a megabyte), would hold gigabytes
/// across a few addresses. What is counted is memory: a connection's own chunks, and each array sent by reference once
/// however many wait on it. Past <see cref="MaxBytes"/> the answers that have waited longest are cut (their connections
/// closed), oldest first, so the newest answers (viewers who are reading) go on.
/// </summary>
internal sealed partial class UnsentAnswers
{
    private readonly LinkedList<DirectSocketOutput> _waiting = []; // oldest first
    private readonly Dictionary<byte[], int> _shared = new(ReferenceEqualityComparer.Instance); // how many wait on each
    private readonly Lock _lock = new();
    private readonly ILogger<UnsentAnswers> _logger;
    private long _bytes;
    private long _cut;
    private long _lastLogged = long.MinValue;

    public UnsentAnswers(IOptions<PublishingPointOptions> options, ILogger<UnsentAnswers> logger)
        : this(Bound((options ?? throw new ArgumentNullException(nameof(options))).Value.MaxUnsentAnswerBytes), logger)
    {
    }

    internal UnsentAnswers(long maxBytes, ILogger<UnsentAnswers> logger)
    {
        MaxBytes = maxBytes;
        _logger = logger;
    }

    public long MaxBytes { get; }

    /// <summary>Bytes waiting now.</summary>
    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Answers cut because the bound was reached.</summary>
    public long Cut => Interlocked.Read(ref _cut);

    /// <summary>PublishingPoint:MaxUnsentAnswerBytes, or (0) an eighth of the memory the runtime sees, at least 256 MB.</summary>
    public static long Bound(long configured) =>
        configured > 0 ? configured : Math.Max(256L * 1024 * 1024, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 8);

    /// <summary>
    /// <paramref name="output"/> waits (until <see cref="Done"/>) with <paramref name="ownedBytes"/> of its own (its
    /// rented chunks) and the <paramref name="shared"/> arrays it sends by reference: an array many connections wait on
    /// (a cached playlist, a segment) is counted once, so a crowd on one answer costs what it holds, not a copy each.
    /// </summary>
    public void Wait(DirectSocketOutput output, long ownedBytes, List<byte[]> shared)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(shared);
        List<(DirectSocketOutput Output, long Generation)>? cut = null;
        lock (_lock)
        {
            if (output.UnsentNode is { List: not null } waiting)
            {
                Remove(waiting);
            }

            output.UnsentNode ??= new LinkedListNode<DirectSocketOutput>(output);
            output.UnsentBytes = ownedBytes;
            output.UnsentShared = shared;
            output.UnsentGeneration++;
            _waiting.AddLast(output.UnsentNode);
            _bytes += ownedBytes;
            foreach (var array in shared)
            {
                var holders = _shared.GetValueOrDefault(array);
                _shared[array] = holders + 1;
                _bytes += holders == 0 ? array.Length : 0;
            }

            while (_bytes > MaxBytes && _waiting.First is { } oldest && oldest.Value != output)
            {
                Remove(oldest);
                (cut ??= []).Add((oldest.Value, oldest.Value.UnsentGeneration));
            }
        }

        if (cut is null)
        {
            return;
        }

        Interlocked.Add(ref _cut, cut.Count);
        foreach (var (slow, generation) in cut)
        {
            slow.Cut(generation);
        }

        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastLogged);
        if (now - last >= 10_000 && Interlocked.CompareExchange(ref _lastLogged, now, last) == last)
        {
            Log(_logger, cut.Count, MaxBytes, Cut);
        }
    }

    /// <summary>The answer was sent, or its connection ended.</summary>
    public void Done(DirectSocketOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        lock (_lock)
        {
            if (output.UnsentNode is { List: not null } node)
            {
                Remove(node);
            }
        }
    }

    private void Remove(LinkedListNode<DirectSocketOutput> node)
    {
        var output = node.Value;
        _waiting.Remove(node);
        _bytes -= output.UnsentBytes;
        foreach (var array in output.UnsentShared)
        {
            var holders = _shared[array] - 1;
            if (holders == 0)
            {
                _shared.Remove(array);
                _bytes -= array.Length;
            }
            else
            {
                _shared[array] = holders;
            }
        }

        output.UnsentShared = [];
    }

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Cut {Count} connection(s) whose clients had not taken their answers: answers waiting in memory passed {MaxBytes} bytes (PublishingPoint:MaxUnsentAnswerBytes); {Total} cut so far")]
    private static partial void Log(ILogger logger, int count, long maxBytes, long total);
}
