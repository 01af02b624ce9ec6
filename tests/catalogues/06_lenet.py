"""Mistakes, partial answers (right values, one rule missed) and alternatives for 06_lenet: each
rewrites one answer cell of the reference."""

from harness import Variant

LENET_INIT = '''class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding={padding})
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear({flat}, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.{pool}(F.relu(self.conv1(x)), 2)
        x = F.{pool}(F.relu(self.conv2(x)), 2)
        x = x.view(-1, {flat})
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return {out}
'''


def lenet(padding=2, flat="16 * 5 * 5", pool="max_pool2d", out="self.fc3(x)"):
    return LENET_INIT.format(padding=padding, flat=flat, pool=pool, out=out)


SIMPLE = '''class SimpleCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding={padding})
        self.conv2 = nn.Conv2d(32, 64, 3, padding={padding})
        self.fc1 = nn.Linear({flat}, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return {out}
'''


def simple(padding=1, flat="64 * 7 * 7", out="F.log_softmax(self.fc2(x), dim=1)"):
    return SIMPLE.format(padding=padding, flat=flat, out=out)


TRAIN = '''def train_one_epoch(model, loader, optimizer, device="cpu"):
    {train}
    total, batches = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        {zero}
        loss = {loss}
        loss.backward()
        optimizer.step()
        total += loss.item()
        batches += 1
    return {ret}
'''


def train(train="model.train()", zero="optimizer.zero_grad()",
          loss="F.cross_entropy(model(x), y)", ret="total / batches"):
    return TRAIN.format(train=train, zero=zero, loss=loss, ret=ret)


EVAL = '''def evaluate(model, loader, device="cpu"):
    {mode}
    correct, seen = 0, 0
    with {grad}:
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            correct += (model(x).argmax(dim=1) == y).sum().item()
            seen += len(y)
    return correct / seen
'''


def evaluation(mode="model.eval()", grad="torch.no_grad()"):
    return EVAL.format(mode=mode, grad=grad)


MISTAKES = [
    Variant("lenet-no-padding", "LeNet5", lenet(padding=0, flat="16 * 4 * 4"),
            "forgets padding=2 on 28x28 inputs, and fits the flatten size to it (256)"),
    Variant("lenet-wrong-flatten", "LeNet5", lenet(flat="16 * 4 * 4"),
            "flatten size computed for unpadded input: a shape error"),
    Variant("lenet-average-pooling", "LeNet5", lenet(pool="avg_pool2d"),
            "average pooling (the 1998 subsampling) where the contract says max pooling"),
    Variant("lenet-softmax-output", "LeNet5", lenet(out="F.softmax(self.fc3(x), dim=1)"),
            "returns probabilities instead of logits"),
    Variant("simplecnn-softmax-output", "SimpleCNN", simple(out="F.softmax(self.fc2(x), dim=1)"),
            "softmax where the source texts use log_softmax"),
    Variant("simplecnn-no-padding", "SimpleCNN", simple(padding=0, flat="64 * 5 * 5"),
            "forgets padding=1, so the maps shrink to 5x5 and the flatten size to 1600"),
    Variant("simplecnn-log-softmax-dim0", "SimpleCNN",
            simple(out="F.log_softmax(self.fc2(x), dim=0)"),
            "log_softmax over the batch axis instead of the classes"),
    Variant("train-no-zero-grad", "train_one_epoch", train(zero="pass"),
            "never clears the gradients: every step follows all earlier batches too"),
    Variant("train-softmax-before-cross-entropy", "train_one_epoch",
            train(loss="F.cross_entropy(F.softmax(model(x), dim=1), y)"),
            "softmax before cross-entropy (which applies its own)"),
    Variant("train-nll-on-logits", "train_one_epoch", train(loss="F.nll_loss(model(x), y)"),
            "nll_loss on logits: right for SimpleCNN's log_softmax, wrong for LeNet5"),
    Variant("train-last-batch-loss", "train_one_epoch", train(ret="loss.item()"),
            "returns the last batch's loss, not the epoch's mean"),
    Variant("eval-no-model-eval", "evaluate", evaluation(mode="pass"),
            "forgets model.eval(): dropout stays on while measuring"),
    Variant("eval-mean-of-batch-accuracies", "evaluate", '''def evaluate(model, loader, device="cpu"):
    model.eval()
    accuracies = []
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            accuracies.append((model(x).argmax(dim=1) == y).float().mean().item())
    return sum(accuracies) / len(accuracies)
''', "averages per-batch accuracies: wrong when the last batch is smaller"),
]

PARTIAL = [
    Variant("lenet-zero-pad-module", "LeNet5", '''class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d(2)
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(self.pad(x))), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
''', "the same logits, but the padding is a ZeroPad2d layer: conv1 itself is unpadded, not the "
   "contract's conv 6@5x5 with padding 2"),
    Variant("simplecnn-zero-pad-modules", "SimpleCNN", '''class SimpleCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d(1)
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(self.pad(x))), 2)
        x = F.max_pool2d(F.relu(self.conv2(self.pad(x))), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return F.log_softmax(self.fc2(x), dim=1)
''', "the same output, but the padding is a ZeroPad2d layer: the convolutions themselves are "
   "unpadded, not the contract's padding 1"),
    Variant("train-no-model-train", "train_one_epoch", train(train="pass"),
            "forgets model.train(): a model left in eval mode trains without dropout"),
    Variant("train-returns-tensor", "train_one_epoch",
            train().replace("total += loss.item()", "total += loss.detach()"),
            "adds up the detached loss tensors and returns a 0-d tensor, not a Python float"),
    Variant("eval-no-no-grad", "evaluate", evaluation(grad="torch.enable_grad()"),
            "forgets torch.no_grad(): builds an autograd graph for every batch it measures"),
    Variant("eval-returns-tensor", "evaluate",
            evaluation().replace(".sum().item()", ".sum()"),
            "counts with tensors and returns a 0-d tensor, not a Python float"),
]

ALTERNATIVES = [
    Variant("lenet-sequential", "LeNet5", '''class LeNet5(nn.Module):
    """nn.Sequential: features then classifier."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))
''', "nn.Sequential blocks with module activations and pooling"),
    Variant("lenet-modules-declared-in-another-order", "LeNet5", '''class LeNet5(nn.Module):
    """Modules for everything, the classifier declared first: another random initialisation."""

    def __init__(self):
        super().__init__()
        self.fc3 = nn.Linear(84, 10)
        self.fc2 = nn.Linear(120, 84)
        self.fc1 = nn.Linear(400, 120)
        self.conv2 = nn.Conv2d(in_channels=6, out_channels=16, kernel_size=(5, 5))
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=6, kernel_size=(5, 5), padding=(2, 2))
        self.pool = nn.MaxPool2d(kernel_size=2)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.pool(self.act(self.conv1(x)))
        x = self.pool(self.act(self.conv2(x)))
        x = x.reshape(x.shape[0], -1)
        return self.fc3(self.act(self.fc2(self.act(self.fc1(x)))))
''', "modules declared in another order (so a different initialisation must still reach 95 %), "
   "one shared MaxPool2d and in-place ReLU, reshape"),
    Variant("simplecnn-sequential", "SimpleCNN", '''class SimpleCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=(3, 3), padding="same"), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10),
            nn.LogSoftmax(dim=-1),
        )

    def forward(self, x):
        return self.net(x)
''', "one nn.Sequential ending in nn.LogSoftmax, padding='same'"),
    Variant("train-loss-module-sample-mean", "train_one_epoch", '''def train_one_epoch(model, loader, optimizer, device="cpu"):
    model.train()
    criterion = nn.CrossEntropyLoss()
    total, count = 0.0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        model.zero_grad(set_to_none=True)
        outputs = model(images)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * labels.size(0)
        count += labels.size(0)
    return total / count
''', "nn.CrossEntropyLoss, model.zero_grad, mean over samples rather than batches"),
    Variant("train-log-softmax-nll", "train_one_epoch", '''def train_one_epoch(model, loader, optimizer, device="cpu"):
    model.train()
    losses = []
    for x, y in loader:
        optimizer.zero_grad()
        log_probs = F.log_softmax(model(x.to(device)), dim=1)
        loss = F.nll_loss(log_probs, y.to(device))
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    return float(torch.stack(losses).mean())
''', "log_softmax + nll_loss (= cross-entropy on logits), losses stacked at the end"),
    Variant("eval-decorator-dataset-length", "evaluate", '''@torch.no_grad()
def evaluate(model, loader, device="cpu"):
    model.train(False)
    correct = 0
    for images, labels in loader:
        predicted = torch.max(model(images.to(device)), dim=1).indices
        correct += int(torch.eq(predicted, labels.to(device)).sum())
    return correct / len(loader.dataset)
''', "@torch.no_grad() decorator, model.train(False), divides by len(loader.dataset)"),
    Variant("eval-inference-mode-concat", "evaluate", '''def evaluate(model, loader, device="cpu"):
    model.eval()
    predictions, targets = [], []
    with torch.inference_mode():
        for x, y in loader:
            predictions.append(model(x.to(device)).argmax(1).cpu())
            targets.append(y)
    return (torch.cat(predictions) == torch.cat(targets)).float().mean().item()
''', "torch.inference_mode, predictions concatenated then compared"),
]
